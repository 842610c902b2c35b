/* What a daemon asks of its system as it runs, probed from inside a jail (tests/integration/test_runtime.py).
 * Dynamically linked, as daemons are: glibc's syslog(), setlocale() and the time zone code are the jail's.
 * Each command prints one line, "NAME: VALUE" or "NAME: refused (errno text)".
 *
 *   runtime_probe serve TAG          syslog(3) one line as TAG, then wait for SIGTERM (a jail's program)
 *   runtime_probe send TAG MESSAGE   one datagram to /dev/log by hand, saying how connect() went
 *   runtime_probe shm                /dev/shm: its size (statvfs), mode, and a segment made there (shm_open)
 *   runtime_probe make PATH          create PATH (a file on the jail's side of a mount)
 *   runtime_probe exists PATH        whether PATH is there, and what it is (a symlink: and what it leads to)
 *   runtime_probe unlink PATH        try to remove PATH
 *   runtime_probe tz                 the zone localtime() uses now: its name and offset
 *   runtime_probe locale NAME        setlocale(LC_ALL, NAME) and the codeset it gives
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static void refused(const char *what) {
    printf("%s: refused (%s)\n", what, strerror(errno));
}

static int serve(const char *tag) {
    openlog(tag, LOG_PID, LOG_DAEMON);
    syslog(LOG_NOTICE, "runtime-probe: started, syslog(3) reaches the journal");
    closelog();
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigwait(&set, &sig);
    return 0;
}

static int send_line(const char *tag, const char *message) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char line[512];
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        refused("socket");
        return 1;
    }
    strncpy(addr.sun_path, "/dev/log", sizeof(addr.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        refused("connect");
        return 1;
    }
    int n = snprintf(line, sizeof(line), "<29>%s: %s", tag, message);
    if (send(fd, line, (size_t)n, 0) != n) {
        refused("send");
        return 1;
    }
    printf("send: ok\n");
    return 0;
}

static int shm(void) {
    struct statvfs vfs;
    struct stat st;
    if (statvfs("/dev/shm", &vfs) < 0 || stat("/dev/shm", &st) < 0) {
        refused("statvfs");
        return 1;
    }
    printf("size: %llu\n", (unsigned long long)vfs.f_blocks * vfs.f_frsize);
    printf("mode: %04o\n", st.st_mode & 07777);
    printf("flags:%s%s%s\n", vfs.f_flag & ST_NOSUID ? " nosuid" : "", vfs.f_flag & ST_NODEV ? " nodev" : "",
           vfs.f_flag & ST_RDONLY ? " ro" : "");
    int fd = shm_open("/runtime-probe", O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        refused("shm_open");
        return 1;
    }
    void *at = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (at == MAP_FAILED) {
        refused("mmap");
        return 1;
    }
    strcpy(at, "made in the jail");
    printf("shm_open: ok\n");
    return 0;
}

static int make(const char *path) {
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        refused("make");
        return 1;
    }
    printf("make: ok\n");
    return 0;
}

static const char *kind(mode_t mode) {
    return S_ISSOCK(mode) ? "socket" : S_ISLNK(mode) ? "symlink" : S_ISDIR(mode) ? "directory"
           : S_ISREG(mode) ? "file" : "other";
}

static int exists(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        refused("exists");
        return 1;
    }
    if (!S_ISLNK(st.st_mode)) {
        printf("exists: %s\n", kind(st.st_mode));
        return 0;
    }
    if (stat(path, &st) < 0) {  /* a symlink to nothing is not there for a program that opens it */
        refused("exists");
        return 1;
    }
    printf("exists: symlink to a %s\n", kind(st.st_mode));
    return 0;
}

static int remove_path(const char *path) {
    if (unlink(path) < 0) {
        refused("unlink");
        return 1;
    }
    printf("unlink: ok\n");
    return 0;
}

static int tz(void) {
    char out[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, sizeof(out), "%Z %z", &tm);
    printf("tz: %s\n", out);
    return 0;
}

static int locale(const char *name) {
    const char *got = setlocale(LC_ALL, name);
    if (got == NULL) {
        refused("setlocale");
        return 1;
    }
    printf("setlocale: %s\n", got);
    printf("codeset: %s\n", nl_langinfo(CODESET));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    if (argc == 4 && strcmp(argv[1], "send") == 0)
        return send_line(argv[2], argv[3]);
    if (argc == 2 && strcmp(argv[1], "shm") == 0)
        return shm();
    if (argc == 3 && strcmp(argv[1], "make") == 0)
        return make(argv[2]);
    if (argc == 3 && strcmp(argv[1], "exists") == 0)
        return exists(argv[2]);
    if (argc == 3 && strcmp(argv[1], "unlink") == 0)
        return remove_path(argv[2]);
    if (argc == 2 && strcmp(argv[1], "tz") == 0)
        return tz();
    if (argc == 3 && strcmp(argv[1], "locale") == 0)
        return locale(argv[2]);
    fprintf(stderr, "usage: runtime_probe serve TAG | send TAG MESSAGE | shm | make PATH | exists PATH | "
                    "unlink PATH | tz | locale NAME\n");
    return 2;
}
