#!/usr/bin/python3
"""faultfs: a pass-through FUSE file system whose writes can be made to fail on demand.

Used by the migrationd fault suite to give a daemon a state directory that fills up (ENOSPC) or
fails (EIO) at a chosen moment, deterministically: a real full disk still accepts appends that fit
in a block already allocated, so it cannot say when the next write fails; this can.

    faultfs.py BACKING MOUNTPOINT MODEFILE

Every file operation is passed to BACKING. Before each operation that changes something the file
MODEFILE is read (it is small and outside the mount):
    ok      (or missing)  everything passes
    enospc  writes, creates, renames, links, fallocate and growing truncates fail with ENOSPC
    eio     the same operations, and fsync/fsyncdir, fail with EIO
    eio-fsync  only fsync/fsyncdir fail with EIO: the bytes reach the file, the caller is told they did not
Reads always pass. Runs in the foreground until unmounted. Prints "faultfs: mounted" once the
mount is in place (the runner waits for it) and one line per injected failure.
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations

MUTATING = {"write", "create", "mkdir", "mknod", "rename", "link", "symlink", "truncate", "fallocate",
            "unlink", "rmdir", "chmod", "chown", "utimens"}
SYNCING = {"fsync", "fsyncdir", "flush"}


class FaultFs(Operations):
    def __init__(self, backing, modefile):
        self.root = os.path.realpath(backing)
        self.modefile = modefile

    def _mode(self):
        try:
            with open(self.modefile) as f:
                return f.read().strip() or "ok"
        except FileNotFoundError:
            return "ok"

    def _check(self, op, path):
        if op not in MUTATING and op not in SYNCING:
            return
        mode = self._mode()
        if mode == "ok":
            return
        if mode == "enospc" and op in MUTATING and op not in ("unlink", "rmdir", "chmod", "chown", "utimens"):
            print("faultfs: injected ENOSPC op=%s path=%s" % (op, path), flush=True)
            raise FuseOSError(errno.ENOSPC)
        if mode == "eio-fsync" and op in ("fsync", "fsyncdir"):
            print("faultfs: injected EIO op=%s path=%s" % (op, path), flush=True)
            raise FuseOSError(errno.EIO)
        if mode == "eio" and op not in ("flush",):
            print("faultfs: injected EIO op=%s path=%s" % (op, path), flush=True)
            raise FuseOSError(errno.EIO)

    def _full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # --- metadata -----------------------------------------------------------------------------
    def access(self, path, amode):
        if not os.access(self._full(path), amode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._full(path))
        return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime",
                                            "st_nlink", "st_size", "st_uid", "st_blocks")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._full(path))

    def readlink(self, path):
        return os.readlink(self._full(path))

    def statfs(self, path):
        st = os.statvfs(self._full(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                            "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def chmod(self, path, mode):
        self._check("chmod", path)
        return os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        self._check("chown", path)
        return os.chown(self._full(path), uid, gid)

    def utimens(self, path, times=None):
        self._check("utimens", path)
        return os.utime(self._full(path), times)

    # --- names --------------------------------------------------------------------------------
    def mkdir(self, path, mode):
        self._check("mkdir", path)
        return os.mkdir(self._full(path), mode)

    def rmdir(self, path):
        self._check("rmdir", path)
        return os.rmdir(self._full(path))

    def mknod(self, path, mode, dev):
        self._check("mknod", path)
        return os.mknod(self._full(path), mode, dev)

    def unlink(self, path):
        self._check("unlink", path)
        return os.unlink(self._full(path))

    def symlink(self, name, points_to):
        self._check("symlink", name)
        return os.symlink(points_to, self._full(name))

    def rename(self, old, new):
        self._check("rename", new)
        return os.rename(self._full(old), self._full(new))

    def link(self, name, existing):
        self._check("link", name)
        return os.link(self._full(existing), self._full(name))

    # --- files --------------------------------------------------------------------------------
    def open(self, path, flags):
        return os.open(self._full(path), flags)

    def create(self, path, mode, fi=None):
        self._check("create", path)
        return os.open(self._full(path), os.O_WRONLY | os.O_CREAT, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        self._check("write", path)
        return os.pwrite(fh, buf, offset)

    def truncate(self, path, length, fh=None):
        self._check("truncate", path)
        with open(self._full(path), "r+") as f:
            f.truncate(length)

    def flush(self, path, fh):
        self._check("flush", path)
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def fsync(self, path, fdatasync, fh):
        self._check("fsync", path)
        return os.fdatasync(fh) if fdatasync else os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        self._check("fsyncdir", path)
        fd = os.open(self._full(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return 0

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0


class Announcing(FaultFs):
    def init(self, path):
        print("faultfs: mounted", flush=True)


def main():
    if len(sys.argv) != 4:
        print("usage: faultfs.py BACKING MOUNTPOINT MODEFILE", file=sys.stderr)
        return 2
    backing, mountpoint, modefile = sys.argv[1:]
    FUSE(Announcing(backing, modefile), mountpoint, foreground=True, nothreads=False, allow_other=True,
         default_permissions=True, fsname="faultfs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
