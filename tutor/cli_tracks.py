"""The CLI's track commands: `tracks`, `track use`, `today`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer
from rich.markup import escape

from tutor.cli import JsonOpt, TrackOpt, WorkspaceOpt, app, err, open_tutor, out, print_json, usage_error
from tutor.tracks import UnknownLesson

track_app = typer.Typer(help="Choose the course plan you follow.", no_args_is_help=True)
app.add_typer(track_app, name="track")


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2027-01-04") from None


@app.command()
def tracks(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The course plans (tracks), with your completion in each."""
    tutor = open_tutor(workspace)
    rows = tutor.tracks()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        mark = "▸" if r["active"] else " "
        dated = " · dated" if r["dated"] else ""
        out.print(f"{mark} [bold]{r['name']:<20}[/] {r['passed']:>2}/{r['written']:<2} written lessons passed · "
                  f"{r['items']} items{dated}")
        out.print(f"    [dim]{escape(r['title'])}[/]")
    err.print("[dim]`dltutor track use NAME` switches (your passes count in every track)[/]")


@track_app.command("use")
def track_use(name: Annotated[str, typer.Argument(help="the track, e.g. 12-weeks")],
              start: Annotated[Optional[str], typer.Option("--start", help="your first session's date, e.g. 2027-01-04")] = None,
              workspace: WorkspaceOpt = None) -> None:
    """Follow another track; with --start its dates move to your own start."""
    day = _date(start)
    tutor = open_tutor(workspace)
    try:
        outline = tutor.use_track(name, day)
    except UnknownLesson as exc:
        usage_error(str(exc))
    note = ""
    if day is not None and not outline.track.dated:
        note = " (it has no dates, so --start changes nothing)"
    elif day is not None and outline.track.start and day.weekday() != outline.track.start.weekday():
        note = f" (note: the plan starts on a {outline.track.start:%A}; you chose a {day:%A})"
    err.print(f"you now follow {outline.name}: {outline.track.title}{note}")
    if outline.start:
        err.print(f"first session {outline.start:%a %-d %b %Y}")


@app.command()
def today(workspace: WorkspaceOpt = None, track: TrackOpt = None,
          date: Annotated[Optional[str], typer.Option("--date", help="pretend today is this date")] = None) -> None:
    """What to do next: the next lesson, and on a dated track what is due and overdue."""
    from tutor.render import schedule_lines

    tutor = open_tutor(workspace, track)
    plan = tutor.schedule(_date(date))
    nxt = tutor.next_lesson()
    if nxt is not None:
        out.print(f"next: [bold]{tutor.position(nxt)}[/] {escape(nxt.title)} — `dltutor check {nxt.id}`")
    for line in schedule_lines(plan):
        out.print(line)
