#!/usr/bin/python3
"""Run getmail6 with its delivery children waited for with waitpid().

usage: getmail-sync.py GETMAIL-ARGS...

getmail6 (seen in 6.18.11) forks a child for each delivery and then, in
the parent, installs a SIGCHLD handler that wakes a condition variable it
waits on.  When the child exits before the handler is installed, or
before the parent waits, the wake-up is lost and getmail waits its whole
"timeout" for a child long gone, then gives up on the run ("waiting child
pid N timed out").  On a busy two-core machine that happens in most runs
of a few hundred messages.  Here the parent waits for the child with a
plain waitpid(): the same fork, the same delivery, no lost wake-up.
Everything else is getmail's own code, run from /usr/bin/getmail.
"""

import os
import runpy
import sys

from getmailcore import baseclasses
from getmailcore.exceptions import getmailOperationError


def exit_code(pid, status):
    # The checks of ForkingBase._wait_for_child().
    if os.WIFSTOPPED(status):
        raise getmailOperationError(
            "child pid %d stopped by signal %d" % (pid, os.WSTOPSIG(status))
        )
    if os.WIFSIGNALED(status):
        raise getmailOperationError(
            "child pid %d killed by signal %d" % (pid, os.WTERMSIG(status))
        )
    if not os.WIFEXITED(status):
        raise getmailOperationError("child pid %d failed to exit" % pid)
    return os.WEXITSTATUS(status)


def forkchild(self, childfun, with_out=True):
    self.child = child = baseclasses.Namespace()
    child.stdout = baseclasses.TemporaryFile23()
    child.stderr = baseclasses.TemporaryFile23()
    child.childpid = os.fork()
    if child.childpid == 0:
        childfun(child.stdout, child.stderr)
        os._exit(127)
    self.log.debug("spawned child %d\n" % child.childpid)
    pid, status = os.waitpid(child.childpid, 0)
    child.exitcode = exit_code(pid, status)
    child.stderr.seek(0)
    child.err = child.stderr.read().strip().decode()
    child.stdout.seek(0)
    if with_out:
        child.out = child.stdout.read().strip()
    return child


baseclasses.ForkingBase.forkchild = forkchild
sys.argv[0] = "getmail"
runpy.run_path("/usr/bin/getmail", run_name="__main__")
