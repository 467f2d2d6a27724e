/*
 * sandbox-bwrap-init: the first program bwrap starts inside the sandbox.
 *
 *	/.mcpd-init STATUS_FD COMMAND [ARG]...
 *
 * bwrap reports a command killed by signal N as exit status 128 + N, which
 * cannot be told from a command that exits with 128 + N itself. This shim
 * runs the command as its child and writes how it really ended to
 * STATUS_FD ("R\n" once started, then "E <code>\n" or "S <signal>\n"),
 * then exits the way bwrap would. The driver trusts that line only for
 * what the command could say about itself anyway: a sandboxed process that
 * kills the shim or forges the line only misreports its own status.
 *
 * Built static and without sanitizers (their runtimes need ptrace, which
 * the sandbox refuses); embedded in sandbox-bwrap.so and copied into each
 * sandbox with bwrap --file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(int fd, const char *line)
{
	size_t n = strlen(line);

	while (n > 0) {
		ssize_t w = write(fd, line, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	char line[32];
	int fd, st;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: %s STATUS_FD COMMAND [ARG]...\n", argv[0]);
		return 127;
	}
	fd = atoi(argv[1]);
	say(fd, "R\n");
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "sandbox: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		close(fd);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "sandbox: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return 127;
	}
	if (WIFSIGNALED(st)) {
		snprintf(line, sizeof(line), "S %d\n", WTERMSIG(st));
		say(fd, line);
		return 128 + WTERMSIG(st);
	}
	snprintf(line, sizeof(line), "E %d\n", WEXITSTATUS(st));
	say(fd, line);
	return WEXITSTATUS(st);
}
