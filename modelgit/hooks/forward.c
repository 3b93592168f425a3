/* The hook shim's forwarder, compiled: hands a git hook's input to the running modelgit
 * server and prints its verdict, as modelgit/hooks/forward.py does, in ~1 ms instead of the
 * ~20 ms a Python start costs here (twice per push: pre-receive and post-receive).
 *
 * Built by `modelgit hooks install` when a C compiler is there (modelgit/hooks/compiled.py);
 * without one the hooks start Python, which does the same. The wire format is forward.py's:
 *   request  "MGHOOK1 <header bytes> <stdin bytes>\n", header, stdin;
 *            header = hook, model, working folder, KEY=VALUE... separated by NUL bytes
 *   replies  lines "S <text>" (a remote: line) and a final "R <exit code>"
 *
 * usage: modelgit-hook-forward SOCKET HOOK MODEL -- PROGRAM ARGS...
 * When SOCKET cannot be connected to (no server: the cold path), PROGRAM (the Python shim)
 * is executed with the same standard input, which then checks the push itself. Once
 * connected, any failure refuses the push (fail closed), like forward.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

struct buf {
    char *data;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n) {
    if (n > SIZE_MAX - b->len) abort();
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2) abort();
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        if (!grown) abort();  /* fail closed: git treats the hook's death as a refusal */
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static int read_all(int fd, struct buf *b) {
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        put(b, chunk, (size_t)n);
    }
}

/* flags: MSG_NOSIGNAL for the socket (a server gone mid-request is an error to report, not a
 * SIGPIPE that kills the hook without a word), 0 with write() for a file. */
static int write_all(int fd, const char *p, size_t n, int flags) {
    while (n > 0) {
        ssize_t done = flags ? send(fd, p, n, flags) : write(fd, p, n);
        if (done < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += done;
        n -= (size_t)done;
    }
    return 0;
}

/* Refuse as forward.py does; post-receive cannot refuse (the refs moved), so it exits 0. */
static int lost(const char *hook, const char *why) {
    fprintf(stderr,
            "modelgit: %s refused: lost the connection to the modelgit server (%s);\n"
            "modelgit: nothing was changed, push again.\n",
            hook, why);
    return strcmp(hook, "pre-receive") == 0 ? 1 : 0;
}

/* No server: run the Python shim on the same input (kept in a memory file). */
static int cold(char **program, const struct buf *in) {
    int fd = memfd_create("modelgit-hook-stdin", 0);
    if (fd < 0 || write_all(fd, in->data ? in->data : "", in->len, 0) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0) {
        perror("modelgit: hook");
        return 1;
    }
    close(fd);
    execv(program[0], program);
    fprintf(stderr, "modelgit: cannot run %s: %s\n", program[0], strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: %s SOCKET HOOK MODEL -- PROGRAM ARGS...\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *hook = argv[2], *model = argv[3];
    char **program = argv + 5;

    struct buf in = {0};
    if (read_all(0, &in) < 0) return lost(hook, "cannot read the hook's input");

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int sock = -1;
    if (strlen(path) < sizeof addr.sun_path) {
        memcpy(addr.sun_path, path, strlen(path) + 1);
        /* As forward.py: a server that does not take the connection within 2 s counts as
         * absent (cold path). For a unix socket, SO_SNDTIMEO bounds connect(). */
        struct timeval limit = {.tv_sec = 2}, none = {0};
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock >= 0 &&
            (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) < 0 ||
             connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0 ||
             setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none) < 0)) {
            close(sock);
            sock = -1;
        }
    }
    if (sock < 0) return cold(program, &in);

    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return lost(hook, "cannot read the working folder");
    struct buf header = {0};
    put(&header, hook, strlen(hook));
    put(&header, "", 1);
    put(&header, model, strlen(model));
    put(&header, "", 1);
    put(&header, cwd, strlen(cwd));
    for (char **e = environ; *e; e++) {
        put(&header, "", 1);
        put(&header, *e, strlen(*e));
    }
    const char *client = "MODELGIT_HOOK_CLIENT=compiled";
    put(&header, "", 1);
    put(&header, client, strlen(client));

    char head[64];
    int n = snprintf(head, sizeof head, "MGHOOK1 %zu %zu\n", header.len, in.len);
    if (write_all(sock, head, (size_t)n, MSG_NOSIGNAL) < 0 ||
        write_all(sock, header.data, header.len, MSG_NOSIGNAL) < 0 ||
        write_all(sock, in.data ? in.data : "", in.len, MSG_NOSIGNAL) < 0)
        return lost(hook, strerror(errno));

    struct buf pending = {0};
    char chunk[65536];
    for (;;) {
        ssize_t got = read(sock, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return lost(hook, strerror(errno));
        if (got == 0) return lost(hook, "the server closed the hook connection without a verdict");
        put(&pending, chunk, (size_t)got);
        char *start = pending.data, *end = pending.data + pending.len, *nl;
        while ((nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
            *nl = '\0';
            if (start[0] == 'S' && start[1] == ' ') {
                fprintf(stderr, "%s\n", start + 2);
            } else if (start[0] == 'R' && start[1] == ' ') {
                char *stop;
                long rc = strtol(start + 2, &stop, 10);
                fflush(stderr);
                if (stop == start + 2 || *stop != '\0' || rc < 0 || rc > 255)
                    return lost(hook, "the server sent no valid verdict");
                return strcmp(hook, "pre-receive") == 0 ? (int)rc : 0;
            }
            start = nl + 1;
        }
        size_t rest = (size_t)(end - start);
        memmove(pending.data, start, rest);
        pending.len = rest;
    }
}
