"""Writing a report to --output without damaging what the name points at.

`convcalc check vgg16 -o /dev/null` once replaced /dev/null with a regular file: the report
was written to a temporary file and renamed over whatever was there. Here a rename only ever
replaces a regular file; devices, named pipes and the standard streams are written in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys

_DESCRIPTOR = re.compile(r"/dev/(stdin|stdout|stderr|fd/\d+)|/proc/(?:self|thread-self)/fd/\d+")
_STREAMS = {"stdin": 0, "stdout": 1, "stderr": 2}


def write_output(path: str, text: str) -> None:
    """Write a report to ``path`` without damaging what is there (OSError when it cannot).

    A regular file is replaced atomically (:func:`replace_file`), keeping its permissions
    and owner; a new file gets the permissions of any new file (the umask). A symbolic link
    is followed and its target written. `/dev/stdout`, `/dev/stderr`, `/dev/stdin` and
    `/dev/fd/N` are written to that descriptor, so that `>> log` keeps appending and a file
    open for reading only is never rewritten. Devices and named pipes are written straight
    through; a block device (a disk) is refused.
    """
    write_bytes(path, text.encode("utf-8", "backslashreplace"))


def write_bytes(path: str, data: bytes) -> None:
    """:func:`write_output` for bytes: a weights file, an ONNX model."""
    if not path:
        raise FileNotFoundError(errno.ENOENT, "the file name is empty")
    if "\0" in path:
        raise OSError(errno.EINVAL, "a file name cannot hold a NUL character")
    fd = _descriptor(path)
    if fd is not None:
        _write_descriptor(fd, data)
        return
    target = os.path.realpath(path)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    if info is None or stat.S_ISREG(info.st_mode):
        replace_file(target, data, info)
    elif stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    else:
        _write_through(target, data)


def _descriptor(path: str) -> int | None:
    m = _DESCRIPTOR.fullmatch(path)
    if m is None:
        return None
    name = m.group(1)
    return _STREAMS[name] if name in _STREAMS else int(path.rsplit("/", 1)[1])


def _write_descriptor(fd: int, data: bytes) -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    _write_all(fd, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _refuse_block_device(info: os.stat_result) -> None:
    if stat.S_ISBLK(info.st_mode):
        raise OSError(
            errno.EINVAL, "it is a block device (a disk): convcalc does not write reports onto one"
        )


def _write_through(target: str, data: bytes) -> None:
    """Write a device or a named pipe in place, never creating or truncating anything."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    info = os.stat(target)
    _refuse_block_device(info)
    fd = os.open(target, flags)
    try:
        info = os.fstat(fd)
        _refuse_block_device(info)
        if stat.S_ISREG(info.st_mode):  # it became a regular file after we looked
            os.close(fd)
            fd = -1
            replace_file(target, data, info)
            return
        _write_all(fd, data)
    finally:
        if fd >= 0:
            os.close(fd)


def replace_file(target: str, data: bytes, info: os.stat_result | None) -> None:
    """Replace the regular file ``target`` (``info``: its stat, None when it does not exist)
    so that an interrupted run never leaves it truncated: a temporary file in the same
    directory, with the old file's mode and owner, synced, then renamed over the target.

    A file with several hard links, or whose owner the temporary file cannot take, is
    rewritten in place instead (as vim does), so that the links and the owner stay. Never
    renames onto anything that is not a regular file.
    """
    if info is not None and info.st_nlink > 1:
        _rewrite_in_place(target, data)
        return
    directory, name = os.path.split(target)
    try:
        fd, temporary = _create_temporary(directory or ".", name)
    except PermissionError:
        if info is None:
            raise
        _rewrite_in_place(target, data)  # a writable file in a directory we cannot write
        return
    try:
        if info is not None and not _take_owner_and_mode(fd, info):
            os.close(fd)
            fd = -1
            os.unlink(temporary)
            _rewrite_in_place(target, data)
            return
        _write_all(fd, data)
        try:
            os.fsync(fd)
        except OSError as exc:  # a file system that cannot sync (some FUSE ones) is no error
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
                raise
        os.close(fd)
        fd = -1
        try:
            now = os.lstat(target)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(now.st_mode):
                raise OSError(errno.EEXIST, "it is no longer a regular file, not replaced")
        os.replace(temporary, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """A new file next to the target, created with mode 0o666 so that the umask (and any
    default ACL) gives it the permissions of any new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _take_owner_and_mode(fd: int, info: os.stat_result) -> bool:
    """Give the temporary file the replaced file's owner, group and permission bits; False
    when the owner or group cannot be given."""
    if hasattr(os, "fchown"):
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (info.st_uid, info.st_gid):
            try:
                os.fchown(fd, info.st_uid, info.st_gid)
            except PermissionError:
                return False
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & 0o777)
    return True


def _rewrite_in_place(target: str, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
