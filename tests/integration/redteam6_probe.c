/* Red team 6's program (static): writes, from inside a jail, an ELF file for root's reader on the host.
 *
 *   redteam6_probe elf PATH NEEDED LENGTH DIRS   writes PATH: an x86-64 shared object whose one PT_LOAD
 *       covers the file and whose PT_DYNAMIC holds NEEDED DT_NEEDED entries, each naming a distinct suffix
 *       of one string of LENGTH 'A's (the last shares its end with all the others), and, when DIRS > 0,
 *       one DT_RUNPATH of DIRS directories ("/x0:/x1:..."); says "elf: wrote N bytes" or
 *       "elf: refused (errno text)", then waits forever (the jail keeps running).
 *   redteam6_probe need PATH SONAME   writes PATH (mode 0600: a file others may not read, so never bound):
 *       a small ELF shared object whose one DT_NEEDED is SONAME (an absolute path: a host file the jail
 *       can't read); says "need: wrote N bytes", then waits forever.
 *   redteam6_probe fifo PATH FIFO HOSTFIFO   makes the FIFO FIFO, writes PATH (0644) as a small ELF object
 *       needing HOSTFIFO (the FIFO's host path), says "fifo: waiting", and opens FIFO for writing: that open
 *       returns when someone opens it for reading (root, on the host, reading the ELF file's needs), and
 *       then says "fifo: opened by a reader"; waits forever.
 *   redteam6_probe tamper PATH   rewrites PATH's first byte in place (same size) and puts its atime and mtime
 *       back (futimens): only the ctime, which no one can set, tells; says "tamper: ok", waits forever.
 *       At the first start only (PATH.done remembers it, made first).
 *   redteam6_probe read PATH   says "read PATH: N bytes" (what it could read of it) or "read PATH: refused
 *       (errno text)", then exits.
 *   redteam6_probe wait   waits forever.
 *   A reader that takes every entry keeps NEEDED strings of up to LENGTH bytes, and a resolver looks each
 *   soname up in every directory: NEEDED x DIRS stat calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char *put(unsigned char *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        *p++ = (unsigned char)(v >> (8 * i));  /* little-endian */
    return p;
}

static int write_elf(const char *path, long needed, long length, long dirs, const char *soname)
{
    const long ehsize = 64, phsize = 56, dyn_off = ehsize + 2 * phsize;
    long n_dyn = needed + (dirs > 0) + 2;
    long str_off = dyn_off + 16 * n_dyn;
    long dirs_len = 0;
    for (long i = 0; i < dirs; i++)
        dirs_len += snprintf(NULL, 0, "/x%ld", i) + 1;
    if (soname)
        length = (long)strlen(soname);  /* one DT_NEEDED: the string itself */
    long runpath_at = 1 + length + 1;
    long size = str_off + runpath_at + dirs_len + (dirs ? 0 : 0);
    unsigned char *buf = calloc(1, (size_t)size + 1), *p = buf;
    if (!buf)
        return -1;
    memcpy(p, "\177ELF\2\1\1", 7);
    p = buf + 16;
    p = put(p, 3, 2); p = put(p, 62, 2); p = put(p, 1, 4); p = put(p, 0, 8);   /* ET_DYN, x86-64 */
    p = put(p, ehsize, 8); p = put(p, 0, 8); p = put(p, 0, 4);                 /* phoff, shoff, flags */
    p = put(p, ehsize, 2); p = put(p, phsize, 2); p = put(p, 2, 2);            /* ehsize, phentsize, phnum */
    p = put(p, 64, 2); p = put(p, 0, 2); p = put(p, 0, 2);
    /* PT_LOAD over the whole file, PT_DYNAMIC */
    p = put(p, 1, 4); p = put(p, 5, 4); p = put(p, 0, 8); p = put(p, 0, 8); p = put(p, 0, 8);
    p = put(p, (uint64_t)size, 8); p = put(p, (uint64_t)size, 8); p = put(p, 0x1000, 8);
    p = put(p, 2, 4); p = put(p, 6, 4); p = put(p, (uint64_t)dyn_off, 8); p = put(p, (uint64_t)dyn_off, 8);
    p = put(p, (uint64_t)dyn_off, 8); p = put(p, (uint64_t)(16 * n_dyn), 8); p = put(p, (uint64_t)(16 * n_dyn), 8);
    p = put(p, 8, 8);
    for (long i = 0; i < needed; i++) {
        p = put(p, 1, 8);                                   /* DT_NEEDED */
        p = put(p, (uint64_t)(1 + i % (length > 0 ? length : 1)), 8);
    }
    if (dirs > 0) {
        p = put(p, 29, 8); p = put(p, (uint64_t)runpath_at, 8);   /* DT_RUNPATH */
    }
    p = put(p, 5, 8); p = put(p, (uint64_t)str_off, 8);           /* DT_STRTAB */
    p = put(p, 0, 8); p = put(p, 0, 8);                           /* DT_NULL */
    p = buf + str_off + 1;
    if (soname)
        memcpy(p, soname, (size_t)length);
    else
        memset(p, 'A', (size_t)length);
    p += length + 1;
    for (long i = 0; i < dirs; i++)
        p += sprintf((char *)p, "/x%ld%s", i, i + 1 < dirs ? ":" : "") + (i + 1 < dirs ? 0 : 1);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || fchmod(fd, soname ? 0600 : 0644) < 0)
        return -1;
    long done = 0;
    while (done < size) {
        ssize_t n = write(fd, buf + done, (size_t)(size - done));
        if (n <= 0)
            return -1;
        done += n;
    }
    close(fd);
    free(buf);
    return (int)done;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "elf") == 0) {
        int n = write_elf(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]), NULL);
        if (n < 0)
            printf("elf: refused (%s)\n", strerror(errno));
        else
            printf("elf: wrote %d bytes\n", n);
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 4 && strcmp(argv[1], "need") == 0) {
        int n = write_elf(argv[2], 1, 0, 0, argv[3]);
        if (n < 0)
            printf("need: refused (%s)\n", strerror(errno));
        else
            printf("need: wrote %d bytes\n", n);
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 5 && strcmp(argv[1], "fifo") == 0) {
        unlink(argv[3]);
        if (mkfifo(argv[3], 0666) < 0 || write_elf(argv[2], 1, 0, 0, argv[4]) < 0 || chmod(argv[2], 0644) < 0) {
            printf("fifo: refused (%s)\n", strerror(errno));
        } else {
            printf("fifo: waiting\n");
            fflush(stdout);
            int fd = open(argv[3], O_WRONLY);
            printf(fd < 0 ? "fifo: refused (%s)\n" : "fifo: opened by a reader\n", strerror(errno));
        }
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 3 && strcmp(argv[1], "tamper") == 0) {
        struct stat st;
        char done[4200];
        snprintf(done, sizeof done, "%s.done", argv[2]);
        if (access(done, F_OK) == 0) {  /* at the first start only: what apply repairs stays repaired */
            printf("tamper: done before\n");
            fflush(stdout);
            for (;;)
                pause();
        }
        close(open(done, O_CREAT | O_WRONLY, 0644));
        sync();
        int fd = open(argv[2], O_RDWR);
        int ok = fd >= 0 && fstat(fd, &st) == 0 && pwrite(fd, "X", 1, 0) == 1;
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        ok = ok && futimens(fd, times) == 0;
        printf(ok ? "tamper: ok\n" : "tamper: refused (%s)\n", strerror(errno));
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        char buf[65536];
        long total = 0;
        ssize_t n;
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            printf("read %s: refused (%s)\n", argv[2], strerror(errno));
            return 1;
        }
        while ((n = read(fd, buf, sizeof buf)) > 0)
            total += n;
        printf("read %s: %ld bytes\n", argv[2], total);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "wait") == 0)
        for (;;)
            pause();
    fprintf(stderr, "usage: redteam6_probe elf PATH NEEDED LENGTH DIRS\n");
    return 2;
}
