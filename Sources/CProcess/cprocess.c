// See cprocess.h. Between fork and exec the child runs only async-signal-safe calls (the parent
// may be multi-threaded); an error there is written to a close-on-exec pipe as an errno value,
// which the parent reads: EOF means exec succeeded.
#define _GNU_SOURCE
#include "cprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/// In the child: reports `error` to the parent and exits.
static void fail_child(int report, int error) {
    while (write(report, &error, sizeof error) < 0 && errno == EINTR) {}
    _exit(127);
}

/// In the child: makes `from` the descriptor `to`, inherited across exec.
static int move_descriptor(int from, int to) {
    if (from == to) return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

int cprocess_spawn(const char *file, char *const argv[], char *const envp[],
                   int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;

    // No handler of this process may run in the child: block everything across fork.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        if (setpgid(0, 0) != 0) fail_child(report[1], errno);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail_child(report[1], errno);
        if (getppid() != parent) raise(SIGKILL);   // the parent died before prctl took effect
        for (int number = 1; number < NSIG; number++) signal(number, SIG_DFL);
        if (move_descriptor(stdin_fd, 0) != 0 || move_descriptor(stdout_fd, 1) != 0
            || move_descriptor(stderr_fd, 2) != 0) fail_child(report[1], errno);
        sigset_t blocked;
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGUSR1);
        sigaddset(&blocked, SIGTERM);
        sigprocmask(SIG_SETMASK, &blocked, NULL);
        execvpe(file, argv, envp);
        fail_child(report[1], errno);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(report[1]);
    if (child < 0) {
        close(report[0]);
        return fork_error;
    }
    int error = 0;
    ssize_t count;
    while ((count = read(report[0], &error, sizeof error)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (count == (ssize_t)sizeof error) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return error;
    }
    *pid = child;
    return 0;
}

int cprocess_peek(pid_t pid, int *status, int *signal_number) {
    siginfo_t info;
    info.si_pid = 0;
    int result;
    while ((result = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR) {}
    if (result < 0) return -1;
    if (info.si_pid == 0) return 0;
    *status = info.si_code == CLD_EXITED ? info.si_status : -1;
    *signal_number = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return 1;
}
