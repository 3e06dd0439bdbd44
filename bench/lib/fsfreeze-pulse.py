#!/usr/bin/env python3
"""Freeze/thaw pulses on one mounted file system (FIFREEZE/FITHAW ioctls): a real, repeatable stall of
every write to it. Usage: fsfreeze-pulse.py MOUNTPOINT FREEZE_MS THAW_MS. Runs until SIGTERM/SIGINT and
always leaves the file system thawed. Each freeze also syncs the file system first, as fsfreeze does."""
import fcntl, os, signal, sys, time

FIFREEZE = 0xC0045877
FITHAW = 0xC0045878

mount, freeze_ms, thaw_ms = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fd = os.open(mount, os.O_RDONLY)
running = True

def stop(*_):
    global running
    running = False

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
frozen = False
try:
    while running:
        fcntl.ioctl(fd, FIFREEZE, 0)
        frozen = True
        time.sleep(freeze_ms / 1000)
        fcntl.ioctl(fd, FITHAW, 0)
        frozen = False
        time.sleep(thaw_ms / 1000)
finally:
    if frozen:
        fcntl.ioctl(fd, FITHAW, 0)
