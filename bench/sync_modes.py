#!/usr/bin/env python3
"""How to make N new small files durable before renaming them into place (what `atomic::Batch`
chose): fsync each file before its rename (the old way), write all then fdatasync or fsync each, or
write all then one syncfs(2) of the directory's file system. Each mode ends with the renames and one
fsync of the directory. Prints the wall seconds of each repetition.

Usage: bench/sync_modes.py [FILES] [DIR]   (DIR on the file system to measure; default a temp dir)
"""
import ctypes
import os
import shutil
import sys
import tempfile
import time

libc = ctypes.CDLL(None, use_errno=True)
files = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
root = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="sync-modes-")
body = b"[Unit]\n" + b"x" * 600  # about a unit file's size


def run(mode):
    d = os.path.join(root, mode)
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    os.sync()
    start = time.perf_counter()
    fds = []
    for i in range(files):
        temp = f"{d}/.u{i}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, body)
        if mode == "fsync-each":
            os.fsync(fd)
            os.close(fd)
            os.rename(temp, f"{d}/u{i}")
        else:
            fds.append(fd)
    if mode == "batch-fdatasync":
        for fd in fds:
            os.fdatasync(fd)
    elif mode == "batch-fsync":
        for fd in fds:
            os.fsync(fd)
    elif mode == "syncfs":
        dir_fd = os.open(d, os.O_RDONLY)
        if libc.syncfs(dir_fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
        os.close(dir_fd)
    for i, fd in enumerate(fds):
        os.close(fd)
        os.rename(f"{d}/.u{i}.tmp", f"{d}/u{i}")
    dir_fd = os.open(d, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
    return time.perf_counter() - start


print(f"{files} files in {root}; wall seconds of 3 repetitions")
for mode in ["fsync-each", "batch-fdatasync", "batch-fsync", "syncfs"]:
    print(f"{mode:16}", " ".join(f"{run(mode):.3f}" for _ in range(3)))
shutil.rmtree(root, ignore_errors=True)
