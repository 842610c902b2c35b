/* socket_probe: a jail's program for the socket activation tests (static: runs in any tree).
 *
 *   socket_probe serve PORT   socket activation: says what it was given (its pid, LISTEN_PID, LISTEN_FDS,
 *                             LISTEN_FDNAMES) and what its own connect() to 127.0.0.1:PORT gave, to every
 *                             client that connects to descriptor 3, one line each.
 *   socket_probe accept DIR   inetd style (accept: true): the connection is stdin and stdout.  Reads an id
 *                             line, writes DIR/ID, answers "written"; reads "list", answers the names in DIR
 *                             on one line; then waits for the client to close.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *value = getenv(name);
    return value ? value : "-";
}

static void own_connect(int port, char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(out, len, "socket:%s", strerrorname_np(errno));
        return;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        snprintf(out, len, "connected");
    else
        snprintf(out, len, "refused:%s", strerrorname_np(errno));
    close(fd);
}

static int serve(int port)
{
    char said[128];
    own_connect(port, said, sizeof said);
    for (;;) {
        int client = accept4(3, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        char line[512];
        int n = snprintf(line, sizeof line, "pid=%d listen_pid=%s fds=%s names=%s connect=%s\n", (int)getpid(),
                         env("LISTEN_PID"), env("LISTEN_FDS"), env("LISTEN_FDNAMES"), said);
        if (write(client, line, (size_t)n) < 0) {
            /* the client went away: the next one */
        }
        close(client);
    }
}

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

static int accept_one(const char *dir)
{
    char id[64], path[4096], cmd[64];
    if (read_line(id, sizeof id) < 0 || !id[0] || strchr(id, '/'))
        return 1;
    snprintf(path, sizeof path, "%s/%s", dir, id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        printf("error %s\n", strerrorname_np(errno));
        fflush(stdout);
        return 1;
    }
    close(fd);
    fprintf(stderr, "accepted %s\n", id);  /* to the journal (StandardError=journal): `jailmgr logs` */
    char status[4096] = "", *capbnd = NULL;
    int sfd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (sfd >= 0) {
        ssize_t got = read(sfd, status, sizeof status - 1);
        status[got > 0 ? got : 0] = 0;
        close(sfd);
        capbnd = strstr(status, "CapBnd:\t");
    }
    printf("written pid=%d listen_pid=%s fds=%s capbnd=%.16s\n", (int)getpid(), env("LISTEN_PID"), env("LISTEN_FDS"),
           capbnd ? capbnd + 8 : "-");
    fflush(stdout);
    if (read_line(cmd, sizeof cmd) < 0 || strcmp(cmd, "list") != 0)
        return 1;
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *e;
    printf("files");
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            printf(" %s", e->d_name);
    printf("\n");
    fflush(stdout);
    closedir(d);
    char rest[16];
    while (read(0, rest, sizeof rest) > 0) {
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "accept") == 0)
        return accept_one(argv[2]);
    fprintf(stderr, "usage: socket_probe serve PORT | accept DIR\n");
    return 2;
}
