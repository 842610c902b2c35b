/* Red team 5's program: one accept: true instance that goes after the others (static).
 *
 *   redteam5_probe DIR   the program of an accept jail, its connection on stdin and stdout.  Reads an id,
 *       writes DIR/ID (the instance's own tmpfs), says "ready ID", then takes commands, one a line:
 *     peek    looks at every process it can see in /proc but itself and its init, as a neighbour would:
 *             kill(PID, 0), /proc/PID/fd/0 or pidfd_getfd (another instance's connection: written to when it
 *             is had) and
 *             /proc/PID/root/DIR (another instance's tmpfs: its file names); and every System V shared
 *             memory segment it can attach but the one it made at its start.  One line:
 *             "peek seen=N signalled=N conns=N files=NAME,NAME shm=N"
 *     fds     "fds N:TARGET ..." for every descriptor it holds but 0-2 (none expected: the connection is 0 and 1)
 *     close   closes 0 and 1 (its connection) and waits forever (systemd keeps its copy of the connection
 *             until the instance ends: the client sees no end)
 *     (EOF)   exits
 *   redteam5_probe udp PORT   the program of a socket-activated net: none jail with one datagram socket:
 *       sends "escaped" from descriptor 3 (systemd's socket, in the host's network namespace) to
 *       127.0.0.1:PORT, says "udp: sent" or "udp: refused (errno text)" on stderr, then waits forever.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int read_line(char *buf, size_t len)
{
    size_t used = 0;
    while (used + 1 < len) {
        char c;
        ssize_t n = read(0, &c, 1);
        if (n <= 0)
            return -1;
        if (c == '\n')
            break;
        buf[used++] = c;
    }
    buf[used] = 0;
    return 0;
}

static int own_shm = -1;

static void peek(const char *dir)
{
    int seen = 0, signalled = 0, conns = 0, self = (int)getpid(), parent = (int)getppid();
    char files[2048] = "";
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == self || pid == parent)
            continue;
        seen++;
        if (kill(pid, 0) == 0)
            signalled++;
        char path[4096];
        snprintf(path, sizeof path, "/proc/%d/fd/0", pid);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            conns++;
            (void)!write(fd, "stolen\n", 7);  /* into the other client's connection */
            close(fd);
        } else {
            /* A socket can't be opened through /proc: take the descriptor itself, in a child (a filter
             * that kills on the call must not end this one). */
            pid_t child = fork();
            if (child == 0) {
                int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                int got = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
                if (got >= 0 && write(got, "stolen\n", 7) == 7)
                    _exit(0);
                _exit(1);
            }
            int status = 1;
            if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                conns++;
        }
        snprintf(path, sizeof path, "/proc/%d/root%s", pid, dir);
        DIR *d = opendir(path);
        struct dirent *f;
        while (d && (f = readdir(d)))
            if (f->d_name[0] != '.' && strlen(files) + strlen(f->d_name) + 2 < sizeof files) {
                if (files[0])
                    strcat(files, ",");
                strcat(files, f->d_name);
            }
        if (d)
            closedir(d);
    }
    if (proc)
        closedir(proc);
    /* System V shared memory: every segment the kernel lists in this IPC namespace but its own */
    int shms = 0;
    struct shmid_ds ds;
    int top = shmctl(0, SHM_INFO, &ds);
    for (int index = 0; index <= top; index++) {
        int id = shmctl(index, SHM_STAT, &ds);
        if (id >= 0 && id != own_shm) {
            char *mem = shmat(id, NULL, SHM_RDONLY);
            if (mem != (void *)-1) {
                shms++;
                shmdt(mem);
            }
        }
    }
    printf("peek seen=%d signalled=%d conns=%d files=%s shm=%d\n", seen, signalled, conns, files[0] ? files : "-",
           shms);
    fflush(stdout);
}

static void fds(void)
{
    char out[4096] = "fds";
    DIR *d = opendir("/proc/self/fd");
    int mine = d ? dirfd(d) : -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == mine)
            continue;
        char path[64], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        size_t used = strlen(out);
        snprintf(out + used, sizeof out - used, " %d:%s", fd, target);
    }
    if (d)
        closedir(d);
    printf("%s\n", out);
    fflush(stdout);
}

static _Noreturn void udp(int port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *fds = getenv("LISTEN_FDS");
    if (fds && atoi(fds) >= 1 && sendto(3, "escaped\n", 8, 0, (struct sockaddr *)&to, sizeof to) == 8)
        fprintf(stderr, "udp: sent\n");
    else
        fprintf(stderr, "udp: refused (%s)\n", fds ? strerror(errno) : "no LISTEN_FDS");
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "udp") == 0)
        udp(atoi(argv[2]));
    char id[64], path[4096], cmd[64];
    if (argc != 2 || read_line(id, sizeof id) < 0 || !id[0] || strchr(id, '/'))
        return 2;
    snprintf(path, sizeof path, "%s/%s", argv[1], id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        printf("error %s\n", strerror(errno));
        fflush(stdout);
        return 1;
    }
    close(fd);
    own_shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);  /* a neighbour's secret, for peek to look for */
    printf("ready %s\n", id);
    fflush(stdout);
    while (read_line(cmd, sizeof cmd) == 0) {
        if (strcmp(cmd, "peek") == 0)
            peek(argv[1]);
        if (strcmp(cmd, "fds") == 0)
            fds();
        if (strcmp(cmd, "close") == 0) {
            close(0);
            close(1);
            for (;;)
                pause();
        }
    }
    return 0;
}
