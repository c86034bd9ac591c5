/*
 * agent-cockpit-reaper: the per-job subreaper between the supervisor and the Claude CLI.
 *
 * Every process the agent starts descends from this one, and stays below it whatever it
 * does to its session or environment: PR_SET_CHILD_SUBREAPER makes an orphan (a double
 * fork, a setsid'd server whose parent exited) reparent here instead of to PID 1. Unlike
 * tini -s or catatonit, it outlives the program it runs: when the CLI exits, its
 * leftovers are still below this process until the supervisor has swept them and closes
 * the control pipe. It runs as the supervisor's user, so an agent of another uid cannot
 * signal it.
 *
 *   agent-cockpit-reaper [--uid N --gid N] [--cgroup DIR] [--warm] --tag TAG -- PROGRAM [ARG...]
 *   agent-cockpit-reaper --probe        exit 0 if this kernel lets a process be a subreaper
 *
 * --tag is never read: it names the job in /proc/PID/cmdline (readable without ptrace)
 * so that a restarted supervisor finds the reapers its predecessor left.
 *
 * fd 0-2 are given to PROGRAM; the reaper itself then holds /dev/null, so the pipes end
 * when PROGRAM and what it started close them.
 * --cgroup DIR: PROGRAM is a member of the job's cgroup before it runs a line. On cgroup v2
 * it is born there (clone3 with CLONE_INTO_CGROUP): moving a process costs the kernel an
 * RCU grace period (~8 ms here, on the request's path), being born in the group does not.
 * Where clone3 is refused (a seccomp profile answering ENOSYS, a kernel before 5.7) and on
 * cgroup v1, the child writes itself into DIR/cgroup.procs between fork and exec.
 *
 * --warm: a warm start. Everything that does not depend on the request is done ahead of
 * it (this process, the fork, the cgroup join): the child then waits for the rest on fd 5
 * and only drops its identity and execs once it has it. The supervisor starts the next
 * job's reaper as soon as a job has finished, so that a request pays for one write and an
 * exec. fd 5 (spec, read until it is whole): "CWD\0COUNT\0ARG\0...\0", COUNT arguments appended to
 * PROGRAM [ARG...], PROGRAM run in CWD. Anything else, an empty spec included (the
 * supervisor gave the start up, or died), is "error spec ERRNO".
 *
 * fd 3 (status, written): one line each, in this order:
 *   with --cgroup, one of:
 *     "joined clone3"      PROGRAM was born in the cgroup
 *     "joined write ERRNO" PROGRAM wrote itself in (ERRNO: why clone3 was refused; 0 on
 *                          cgroup v1, where it is not tried)
 *     "warn cgroup ERRNO"  joining the job's cgroup failed (the job runs without it)
 *   "pid N"              PROGRAM runs (its exec succeeded), or instead
 *   "error STAGE ERRNO"  STAGE = spec | ids | exec: PROGRAM could not be started (it exits 127)
 *   "exit CODE" | "signal N"   PROGRAM ended; " alone" appended when nothing it started
 *                        is left below me (no child at all): the tree is gone already
 * fd 4 (control, read): EOF, because the supervisor closed it when the job's tree was
 *   gone or because the supervisor died, means: SIGKILL everything still below me, reap
 *   it, exit 0. So a supervisor killed mid-job takes its job's processes with it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATUS_FD 3
#define CONTROL_FD 4
#define SPEC_FD 5
/* The spec's arguments are an execve's: Linux takes at most about 2 MiB of them. */
#define SPEC_MAX (4 * 1024 * 1024)
/* The last sweep gives up after this long (processes stuck in D state): what is left
 * then reparents to our parent's subreaper or PID 1. */
#define KILL_DEADLINE_MS 10000

enum stage { STAGE_CGROUP = 1, STAGE_IDS = 2, STAGE_EXEC = 3, STAGE_SPEC = 4 };
struct failure {
	int stage;
	int err;
};

/* Signals an init-like process must not die of: a signal to our process group or a
 * stray kill from an operator. The child gets default dispositions back. */
static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2 };
#define N_IGNORED (sizeof(ignored) / sizeof(ignored[0]))

static pid_t child_pid = -1;
static int child_reported = 0;

static void say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* The supervisor may be gone (EPIPE, SIGPIPE ignored): nothing to do about it. */
	ssize_t w = write(STATUS_FD, line, n);
	(void)w;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > 0xfffffffeUL)
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: agent-cockpit-reaper [--uid N --gid N] [--cgroup DIR] [--warm] --tag TAG -- PROGRAM [ARG...]\n"
			"       agent-cockpit-reaper --probe\n");
	exit(2);
}

/* How many NUL-terminated strings a whole spec of these bytes holds (2 + its COUNT), or 0
 * while its COUNT has not arrived whole (or is not a number). */
static size_t spec_strings(const char *buf, size_t len)
{
	const char *cwd_end = memchr(buf, '\0', len);
	if (cwd_end == NULL)
		return 0;
	const char *count_s = cwd_end + 1;
	if (memchr(count_s, '\0', len - (size_t)(count_s - buf)) == NULL)
		return 0;
	unsigned long count;
	if (parse_id(count_s, &count) != 0 || count > SPEC_MAX)
		return 0;
	return (size_t)count + 2;
}

/* --warm, in the child: read the spec from SPEC_FD until it is whole (its COUNT arguments
 * have arrived: the exec does not wait for the supervisor to close the pipe, which Node
 * does only on its next turn of the event loop) or EOF; chdir to its CWD and return
 * argv = base + its arguments (NULL-terminated). NULL with errno set when it is not
 * a whole spec. Nothing is freed: the child execs or exits. */
static char **read_spec(char **base)
{
	size_t cap = 4096, len = 0, nstr = 0, want = 0;
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	for (;;) {
		if (len == cap) {
			if (cap >= SPEC_MAX) {
				errno = E2BIG;
				return NULL;
			}
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL)
				return NULL;
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(SPEC_FD, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			if (buf[len + (size_t)k] == '\0')
				nstr++;
		len += (size_t)n;
		if (want == 0 && nstr >= 2)
			want = spec_strings(buf, len);
		if (want != 0 && nstr >= want)
			break;
	}
	close(SPEC_FD);
	/* Split into strings; each must end with its NUL, and there must be COUNT + 2 of them. */
	if (len == 0 || buf[len - 1] != '\0' || nstr < 2 || want == 0 || nstr != want) {
		errno = EINVAL;
		return NULL;
	}
	const char *cwd = buf;
	const char *count_s = buf + strlen(buf) + 1;
	size_t count = want - 2;
	size_t nbase = 0;
	while (base[nbase] != NULL)
		nbase++;
	char **argv = calloc(nbase + count + 1, sizeof(char *));
	if (argv == NULL)
		return NULL;
	memcpy(argv, base, nbase * sizeof(char *));
	char *p = (char *)count_s + strlen(count_s) + 1;
	for (size_t k = 0; k < count; k++) {
		argv[nbase + k] = p;
		p += strlen(p) + 1;
	}
	if (chdir(cwd) != 0)
		return NULL;
	return argv;
}

/* In the child, between fork and exec: cgroup (unless born in it), identity, default
 * signals, exec. join_fd: the cgroup directory to write ourselves into, or -1. */
static void become_program(char **argv, int warm, int have_ids, uid_t uid, gid_t gid, int join_fd, const sigset_t *mask, int report_fd)
{
	struct failure f = { 0, 0 };
	for (size_t i = 0; i < N_IGNORED; i++)
		signal(ignored[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	close(STATUS_FD);
	close(CONTROL_FD);
	if (join_fd >= 0) {
		/* "0" moves the writer itself: the CLI is a member before it runs a line. */
		int fd = openat(join_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			f.stage = STAGE_CGROUP;
			f.err = errno;
			ssize_t w = write(report_fd, &f, sizeof(f));
			(void)w;
		}
		if (fd >= 0)
			close(fd);
	}
	if (join_fd >= 0)
		close(join_fd);
	if (warm && (argv = read_spec(argv)) == NULL) {
		f.stage = STAGE_SPEC;
		f.err = errno;
		goto fail;
	}
	if (have_ids) {
		/* The same drop Node's spawn makes with uid/gid: no supplementary groups. */
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
			f.stage = STAGE_IDS;
			f.err = errno;
			goto fail;
		}
	}
	execvp(argv[0], argv);
	f.stage = STAGE_EXEC;
	f.err = errno;
fail: {
	ssize_t w = write(report_fd, &f, sizeof(f));
	(void)w;
	_exit(127);
}
}

/* fork(), or on cgroup v2 a clone3() that makes the child a member of cgroup_fd from its
 * first instant. *born_in: the child is a member already; *why: errno of the refused
 * clone3 (0: not tried). Both are set in the parent and the child alike. */
static pid_t spawn_child(int cgroup_fd, int *born_in, int *why)
{
	*born_in = 0;
	*why = 0;
	if (cgroup_fd >= 0) {
		struct statfs fs;
		if (fstatfs(cgroup_fd, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
			struct clone_args args;
			memset(&args, 0, sizeof(args));
			args.flags = CLONE_INTO_CGROUP;
			args.exit_signal = SIGCHLD;
			args.cgroup = (unsigned long long)cgroup_fd;
			/* No stack given: like fork, the child returns here on a copy of ours. glibc's
			 * fork handlers do not run; this process has one thread, so no lock can be
			 * held by another, and the child does what it does after fork(). */
			long pid = syscall(SYS_clone3, &args, sizeof(args));
			if (pid >= 0) {
				*born_in = 1;
				return (pid_t)pid;
			}
			*why = errno;
		}
	}
	return fork();
}

static void report_end(int status, int alone)
{
	const char *tail = alone ? " alone" : "";
	if (WIFEXITED(status))
		say("exit %d%s", WEXITSTATUS(status), tail);
	else if (WIFSIGNALED(status))
		say("signal %d%s", WTERMSIG(status), tail);
	child_reported = 1;
}

/* Reap every child that has ended; report the program's own end once, after the others
 * reaped with it, saying "alone" when no child at all is left: nothing the program started
 * is alive (an orphan would have become ours before its parent's end reached us). Returns
 * -1 once there are no children at all (ECHILD). */
static int reap(void)
{
	int ended = 0, end_status = 0;
	for (;;) {
		int status;
		pid_t w = waitpid(-1, &status, WNOHANG);
		if (w > 0) {
			if (w == child_pid && !child_reported) {
				ended = 1;
				end_status = status;
			}
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (ended)
			report_end(end_status, w < 0);
		return w == 0 ? 0 : -1;
	}
}

/* SIGKILL every live child of ours, found in /proc by its ppid. A child we have not
 * reaped cannot have its pid reused, so this never hits a stranger. */
static int kill_children(pid_t self)
{
	DIR *proc = opendir("/proc");
	if (proc == NULL)
		return 0;
	int n = 0;
	struct dirent *d;
	while ((d = readdir(proc)) != NULL) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and ')', parse after the last. */
		char *close_paren = strrchr(buf, ')');
		if (close_paren == NULL || close_paren[1] == '\0')
			continue;
		char state;
		long ppid;
		if (sscanf(close_paren + 2, "%c %ld", &state, &ppid) != 2)
			continue;
		if (ppid != self || state == 'Z' || state == 'X')
			continue;
		if (kill((pid_t)atol(d->d_name), SIGKILL) == 0)
			n++;
	}
	closedir(proc);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Kill down the tree: each round kills our children, whose own children then become
 * ours (we are their subreaper), until none are left. No child at all means nothing is
 * below us (an orphan would have become ours): the usual end of a job, which then costs
 * no scan of /proc. */
static void kill_all(void)
{
	pid_t self = getpid();
	long deadline = now_ms() + KILL_DEADLINE_MS;
	const struct timespec pause = { 0, 5 * 1000 * 1000 };
	for (;;) {
		if (reap() < 0)
			return;
		kill_children(self);
		if (reap() < 0 || now_ms() > deadline)
			return;
		nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	int have_uid = 0, have_gid = 0;
	unsigned long uid = 0, gid = 0;
	const char *cgroup_dir = NULL, *tag = NULL;
	int warm = 0;
	int i = 1;
	if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
			fprintf(stderr, "agent-cockpit-reaper: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
			return 1;
		}
		return 0;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--warm") == 0) {
			warm = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--uid") == 0) {
			if (parse_id(argv[++i], &uid) != 0)
				usage();
			have_uid = 1;
		} else if (strcmp(argv[i], "--gid") == 0) {
			if (parse_id(argv[++i], &gid) != 0)
				usage();
			have_gid = 1;
		} else if (strcmp(argv[i], "--cgroup") == 0) {
			cgroup_dir = argv[++i];
		} else if (strcmp(argv[i], "--tag") == 0) {
			tag = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc || tag == NULL || have_uid != have_gid)
		usage();
	if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0 || fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "agent-cockpit-reaper: fds 3 (status) and 4 (control) must be open\n");
		return 2;
	}
	if (warm && fcntl(SPEC_FD, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "agent-cockpit-reaper: --warm: fd 5 (spec) must be open\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		say("error subreaper %d", errno);
		return 1;
	}

	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		say("error signalfd %d", errno);
		return 1;
	}
	for (size_t k = 0; k < N_IGNORED; k++)
		signal(ignored[k], SIG_IGN);

	int report[2];
	if (pipe2(report, O_CLOEXEC) != 0) {
		say("error pipe %d", errno);
		return 1;
	}
	/* A cgroup we cannot even open is reported as joining it would be. */
	int cgroup_fd = -1, cgroup_err = 0;
	if (cgroup_dir != NULL && (cgroup_fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		cgroup_err = errno;
	int born_in, why;
	child_pid = spawn_child(cgroup_fd, &born_in, &why);
	if (child_pid < 0) {
		say("error fork %d", errno);
		return 1;
	}
	if (child_pid == 0) {
		close(report[0]);
		become_program(argv + i, warm, have_uid, (uid_t)uid, (gid_t)gid, born_in ? -1 : cgroup_fd, &old, report[1]);
	}
	close(report[1]);
	/* Only the child reads the spec: its EOF must come when the supervisor closes it. */
	if (warm)
		close(SPEC_FD);
	int joining = cgroup_fd >= 0;
	if (joining)
		close(cgroup_fd);
	if (cgroup_err != 0)
		say("warn cgroup %d", cgroup_err);
	/* Until the exec, the child tells us what failed; EOF means it is running PROGRAM. */
	struct failure f;
	ssize_t got;
	int failed = 0;
	while ((got = read(report[0], &f, sizeof(f))) == (ssize_t)sizeof(f) || (got < 0 && errno == EINTR)) {
		if (got < 0)
			continue;
		if (f.stage == STAGE_CGROUP) {
			say("warn cgroup %d", f.err);
			joining = 0;
		} else {
			say("error %s %d", f.stage == STAGE_IDS ? "ids" : f.stage == STAGE_SPEC ? "spec" : "exec", f.err);
			failed = 1;
		}
	}
	close(report[0]);
	if (joining) {
		if (born_in)
			say("joined clone3");
		else
			say("joined write %d", why);
	}
	if (!failed)
		say("pid %d", (int)child_pid);

	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}

	struct pollfd fds[2] = { { .fd = CONTROL_FD, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			}
			reap();
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[64];
			ssize_t n = read(CONTROL_FD, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break; /* released, or the supervisor is gone */
		}
	}
	kill_all();
	return 0;
}
