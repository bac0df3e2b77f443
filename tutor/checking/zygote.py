"""The fork server's process: import torch and the checking library once, then fork a child per run.

`python -m tutor.checking.zygote cpu FD` is started by tutor.forkserver with FD, its end of a
Unix socket (SOCK_SEQPACKET). Each message on it asks for one check process and carries three
descriptors: the child's stdin (read end), its stdout/stderr (write end) and its events pipe
(write end). The zygote forks; the child puts itself in a process group of its own, takes the
three descriptors, tags its environment for the run's process tracker, and goes on exactly like
a spawned child (tutor.checking.child.serve: the request on stdin, the checks, os._exit). The
zygote answers {"pid", "events_fd"} and later {"exit", "code"} when it reaps the child; it
leaves when the socket closes. CPU only: a process that has initialised CUDA cannot fork.
The zygote never runs a check itself, so every run still starts from the same clean state.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import traceback

from tutor.checking import child

MESSAGE_BYTES = 4096


def send(sock: socket.socket, **fields) -> None:
    try:
        sock.send(json.dumps(fields).encode())
    except OSError:  # the server is gone; we leave on the next receive
        pass


def run_forked(sock: socket.socket, fds: list[int], tag: str, tag_name: str, workdir: str,
               prepared, device: str) -> None:
    """In the forked child: become the check process for one run. Never returns."""
    try:
        os.setpgid(0, 0)
        sock.close()
        stdin_fd, out_fd, events_fd = fds
        os.dup2(stdin_fd, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(stdin_fd)
        os.close(out_fd)
        os.environ[tag_name] = tag
        os.chdir(workdir)
        sys.stdin = open(0, "r", closefd=False)
        child.serve(prepared, device)
    except BaseException:
        traceback.print_exc()
    os._exit(70)


def reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(sock, exit=pid, code=os.waitstatus_to_exitcode(status))


def main() -> None:
    device, fd = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(fileno=fd)
    prepared = child.prepare(device, warm=True)
    send(sock, ready=True, error=prepared[1])
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        reap(sock)
        if not readable:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, 3)
        except OSError:
            break
        if not data:
            break  # the server closed its end: leave (running children carry on to their end)
        request = json.loads(data)
        if len(fds) != 3:
            for extra in fds:
                os.close(extra)
            send(sock, error=f"expected 3 descriptors, got {len(fds)}")
            continue
        pid = os.fork()
        if pid == 0:
            run_forked(sock, fds, request["tag"], request["tag_name"], request["workdir"], prepared, device)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first, no race with a kill
        except OSError:
            pass
        send(sock, pid=pid, events_fd=fds[2])
        for passed in fds:
            os.close(passed)
    os._exit(0)


if __name__ == "__main__":
    main()
