// cprocess.h — starting a child that must not share the caller's fate by accident.
//
// posix_spawn cannot ask the kernel to kill the child when its parent dies (prctl runs in the
// child, before exec), so this is fork + the set-up + execvpe, in C where only async-signal-safe
// calls run between fork and exec. Used by ORWRewards' ScorerProcess (DESIGN.md, "Signals,
// locks and exit statuses").
#ifndef CPROCESS_H
#define CPROCESS_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Starts `file` (looked up on this process's PATH when it has no slash) with `argv` and `envp`
/// (both NULL-terminated), its stdin, stdout and stderr the descriptors given, and:
/// - a process group of its own (setpgid(0, 0)), so signals sent to the caller's group, such
///   as mpirun's forwarding of SIGUSR1 to a rank's group, do not reach it;
/// - SIGUSR1 and SIGTERM blocked (the mask survives exec), so a signal sent to every process of
///   the job (Slurm's preemption) leaves it running until the caller ends it;
/// - SIGKILL when the calling thread's process dies (PR_SET_PDEATHSIG; a parent that died
///   before that took effect makes the child kill itself);
/// - default dispositions for every signal (this process ignores SIGPIPE).
/// Returns 0 and stores the child's pid (= its process group id), or an errno value: from fork,
/// or from the child's set-up or exec (e.g. ENOENT for a missing program).
int cprocess_spawn(const char *file, char *const argv[], char *const envp[],
                   int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid);

/// Whether child `pid` has ended, without reaping it (waitid with WNOWAIT): while it is not
/// reaped its pid, and so its process group id, cannot be reused, and the group can still be
/// signalled safely. Returns 1 and stores the exit status (or -1) and the signal that ended it
/// (or 0), 0 while it runs, -1 with errno on error.
int cprocess_peek(pid_t pid, int *status, int *signal_number);

#ifdef __cplusplus
}
#endif

#endif
