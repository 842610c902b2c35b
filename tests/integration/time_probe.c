/* The program of the time-namespace tests, static (it needs nothing of the jail but itself).
 *
 *   time_probe serve     print the clocks once, then sleep forever (the jail's program)
 *   time_probe clocks    print the clocks: "boottime: S.NNN", "monotonic: S.NNN", "uptime: FIELD" (or
 *                        "uptime: absent (errno text)"), "timens: time:[INODE]"
 *   time_probe attack    try what a compromised service would to change its clocks or the host's, one
 *                        line each, "NAME: ok" or "NAME: refused (errno text)"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define CAP_SYS_TIME 25

static void said(const char *name, int ok)
{
    if (ok)
        printf("%s: ok\n", name);
    else
        printf("%s: refused (%s)\n", name, strerror(errno));
}

static void clocks(void)
{
    struct timespec boot, mono;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    printf("boottime: %lld.%03ld\n", (long long)boot.tv_sec, boot.tv_nsec / 1000000);
    printf("monotonic: %lld.%03ld\n", (long long)mono.tv_sec, mono.tv_nsec / 1000000);
    char buf[128] = "";
    int fd = open("/proc/uptime", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("uptime: absent (%s)\n", strerror(errno));
    } else {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, " \n")] = 0;
        printf("uptime: %s\n", buf);
    }
    ssize_t n = readlink("/proc/self/ns/time", buf, sizeof buf - 1);
    if (n < 0) {
        printf("timens: absent (%s)\n", strerror(errno));
    } else {
        buf[n] = 0;
        printf("timens: %s\n", buf);
    }
    fflush(stdout);
}

/* One try in a child of its own: a seccomp filter that kills (an allow-list without @clock) is a refusal. */
static void attempt(const char *name, int (*try)(void))
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int ok = try();
        said(name, ok);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    if (WIFSIGNALED(status))
        printf("%s: refused (killed by signal %d)\n", name, WTERMSIG(status));
}

static int try_clock_settime(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return clock_settime(CLOCK_REALTIME, &now) == 0;
}

static int try_settimeofday(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return settimeofday(&tv, NULL) == 0;
}

static int try_adjtimex(void)
{
    struct timex tx = {.modes = ADJ_OFFSET | ADJ_STATUS, .status = 0, .offset = 0};
    return adjtimex(&tx) >= 0;
}

/* Its own namespace's offsets: it has been entered, so the kernel refuses them even to CAP_SYS_TIME. */
static int write_offsets(const char *line)
{
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    int ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line);
    if (fd >= 0)
        close(fd);
    return ok;
}

static int try_offsets_own(void)
{
    return write_offsets("monotonic 100000 0\n");
}

static int try_unshare_time(void)
{
    return unshare(CLONE_NEWTIME) == 0;
}

/* A namespace of its own, then its offsets: CAP_SYS_ADMIN, then CAP_SYS_TIME over the host's user namespace. */
static int try_offsets_new(void)
{
    unshare(CLONE_NEWTIME);
    return write_offsets("boottime 100000 0\n");
}

static int try_setns_pid1_time(void)
{
    int fd = open("/proc/1/ns/time", O_RDONLY | O_CLOEXEC);
    return fd >= 0 && setns(fd, CLONE_NEWTIME) == 0;
}

static void attack(void)
{
    printf("bounding_sys_time: %s\n", prctl(PR_CAPBSET_READ, CAP_SYS_TIME, 0, 0, 0) == 1 ? "present" : "absent");
    attempt("clock_settime", try_clock_settime);
    attempt("settimeofday", try_settimeofday);
    attempt("adjtimex", try_adjtimex);
    attempt("offsets_own", try_offsets_own);
    attempt("unshare_time", try_unshare_time);
    attempt("offsets_new", try_offsets_new);
    attempt("setns_pid1_time", try_setns_pid1_time);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "serve") == 0) {
        printf("serve: started\n");
        clocks();
        for (;;)
            pause();
    }
    if (argc == 2 && strcmp(argv[1], "clocks") == 0) {
        clocks();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "attack") == 0) {
        attack();
        return 0;
    }
    fprintf(stderr, "usage: time_probe serve|clocks|attack\n");
    return 2;
}
