"""The CLI's progress commands: the table, `progress export`, `progress import`, and `sync`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from tutor.cli import JsonOpt, TrackOpt, WorkspaceOpt, app, err, open_tutor, out, print_json

progress_app = typer.Typer(help="Your progress: the table, and export / import to move it between machines.",
                           invoke_without_command=True)
app.add_typer(progress_app, name="progress")


@progress_app.callback()
def progress(ctx: typer.Context, workspace: WorkspaceOpt = None, track: TrackOpt = None, as_json: JsonOpt = False,
             host: Annotated[Optional[str], typer.Option("--host", help="only lessons attempted on this host")] = None) -> None:
    """Your progress by lesson: status, attempts, hints, best metric, time spent, hosts."""
    if ctx.invoked_subcommand is not None:
        return
    from tutor.render import progress_table

    tutor = open_tutor(workspace, track)
    rows = tutor.progress_rows(host)
    if as_json:
        print_json({"track": tutor.outline.name, "lessons": rows, "streak": tutor.streak()})
        return
    out.print(progress_table(rows, tutor.streak()))


@progress_app.command("export")
def export(workspace: WorkspaceOpt = None,
           out_file: Annotated[Optional[Path], typer.Option("--out", help="write to this file (default: stdout)")] = None) -> None:
    """Every attempt and hint as versioned JSON lines (for `progress import` on another machine)."""
    tutor = open_tutor(workspace)
    lines = tutor.export_lines()
    if out_file is None:
        sys.stdout.write("".join(lines))
        return
    try:
        out_file.write_text("".join(lines), encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]cannot write {out_file}:[/] {exc.strerror}")
        raise typer.Exit(1)
    err.print(f"wrote {len(lines) - 2} record(s) to {out_file}")


@progress_app.command("import")
def import_(source: Annotated[str, typer.Argument(help="an export file, or - for stdin")],
            workspace: WorkspaceOpt = None,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be added, change nothing")] = False) -> None:
    """Merge an export into your progress: all of it, or (if any line is wrong) none of it."""
    from tutor.progress import StoreError
    from tutor.progress_file import ProgressFileError, parse

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]cannot read {source}:[/] {getattr(exc, 'strerror', None) or exc}")
        raise typer.Exit(1)
    try:
        data = parse(text)
    except ProgressFileError as exc:
        err.print(f"[red]nothing imported:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    tutor = open_tutor(workspace)
    try:
        attempts, hints = tutor.import_records(data.attempts, data.hints, dry_run=dry_run)
    except StoreError as exc:
        err.print(f"[red]nothing imported:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    verb = "would add" if dry_run else "added"
    err.print(f"{verb} {attempts} attempt(s) and {hints} hint(s) from {data.header.get('host', '?')} "
              f"({len(data.attempts) - attempts + len(data.hints) - hints} already here)")


@app.command()
def sync(target: Annotated[str, typer.Argument(help="[user@]host or [user@]host:workspace (your ~/.ssh/config applies)")],
         workspace: WorkspaceOpt = None,
         pull_only: Annotated[bool, typer.Option("--pull", help="only bring the remote's progress here")] = False,
         push_only: Annotated[bool, typer.Option("--push", help="only send this machine's progress there")] = False,
         remote_cmd: Annotated[str, typer.Option("--remote-cmd", help="how to run dltutor on the remote")] = "dltutor",
         ssh_cmd: Annotated[str, typer.Option("--ssh-cmd", envvar="DLTUTOR_SSH", help="the ssh client and options")] = "ssh",
         as_json: JsonOpt = False) -> None:
    """Merge your progress with another machine over SSH, both ways (or --pull / --push)."""
    from tutor.progress import StoreError
    from tutor.sync import Remote, SyncError

    if pull_only and push_only:
        err.print("[red]error:[/] --pull and --push together are a plain sync; give one or neither")
        raise typer.Exit(2)
    tutor = open_tutor(workspace)
    try:
        remote = Remote(target, remote_cmd, ssh_cmd)
        with err.status(f"syncing with {target}…") as status:
            result = tutor.sync(remote, pull=not push_only, push=not pull_only,
                              say=lambda text: status.update(text))
    except (SyncError, StoreError) as exc:
        err.print(f"[red]sync failed, nothing changed here:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    if as_json:
        print_json({"host": result.host, "pulled": result.pulled, "pushed": result.pushed})
        return
    err.print(result.summary())
