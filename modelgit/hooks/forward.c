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
 *
 * usage: modelgit-hook-forward --hook SCRIPT ARGS...
 * As the hook file's interpreter (its first line is "#!FORWARDER --hook"), so that a push
 * does not start /bin/sh before the forwarder (~0.5 ms a hook): the data folder and model are
 * read from SCRIPT's config lines, and SCRIPT's own shell part runs instead, told by
 * MODELGIT_FORWARD_SKIP not to come back here, whenever Python has to (no server, a kept
 * legacy hook, a legacy hook calling us again, config lines this reader cannot read).
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

static int forward(const char *path, const char *hook, const char *model, char **program);

/* The value of a "NAME=value" line of the hook file, as sh would read it: bare characters and
 * '...' or "..." pieces (what Python's shlex.quote writes). 0 on success; -1 for anything
 * else, and the shell part reads the file instead. */
static int config_value(const char *text, const char *name, char *out, size_t size) {
    size_t len = strlen(name);
    const char *at = text;
    while ((at = strstr(at, name)) != NULL) {
        if ((at == text || at[-1] == '\n') && at[len] == '=') break;
        at += len;
    }
    if (at == NULL) return -1;
    const char *p = at + len + 1;
    size_t n = 0;
    while (*p && *p != '\n') {
        if (*p == '\'' || *p == '"') {
            char quote = *p++;
            while (*p && *p != quote) {
                if (*p == '\n' || n + 1 >= size) return -1;
                out[n++] = *p++;
            }
            if (*p != quote) return -1;
            p++;
        } else if (*p == '\\' || *p == '$' || *p == '`' || *p == ' ' || *p == '\t' || *p == ';'
                   || *p == '#') {
            return -1;
        } else {
            if (n + 1 >= size) return -1;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

static int as_hook(int argc, char **argv) {
    const char *script = argv[2];
    char **shell = calloc((size_t)argc, sizeof *shell);
    if (!shell) abort();
    shell[0] = "/bin/sh";
    for (int i = 2; i < argc; i++) shell[i - 1] = argv[i];
    shell[argc - 1] = NULL;
    if (setenv("MODELGIT_FORWARD_SKIP", "1", 1) < 0) abort();

    const char *slash = strrchr(script, '/');
    const char *hook = slash ? slash + 1 : script;
    const char *active = getenv("MODELGIT_HOOK_ACTIVE");
    const char *git_dir = getenv("GIT_DIR");
    char legacy[PATH_MAX];
    int n = snprintf(legacy, sizeof legacy, "%s/hooks/%s.legacy",
                     git_dir && *git_dir ? git_dir : ".", hook);
    static char text[65536], data_dir[PATH_MAX], model[512], sock[PATH_MAX];
    FILE *file = NULL;
    size_t got = 0;
    if ((active && *active) || n < 0 || (size_t)n >= sizeof legacy || access(legacy, F_OK) == 0
        || (file = fopen(script, "r")) == NULL) {
        execv(shell[0], shell);
        perror("modelgit: cannot run /bin/sh");
        return 1;
    }
    got = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[got] = '\0';
    if (config_value(text, "MODELGIT_DATA_DIR", data_dir, sizeof data_dir) < 0 ||
        config_value(text, "MODELGIT_MODEL_ID", model, sizeof model) < 0 ||
        snprintf(sock, sizeof sock, "%s/run/hooks.sock", data_dir) >= (int)sizeof sock) {
        execv(shell[0], shell);
        perror("modelgit: cannot run /bin/sh");
        return 1;
    }
    return forward(sock, hook, model, shell);
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--hook") == 0) return as_hook(argc, argv);
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: %s SOCKET HOOK MODEL -- PROGRAM ARGS...\n", argv[0]);
        return 2;
    }
    return forward(argv[1], argv[2], argv[3], argv + 5);
}

static int forward(const char *path, const char *hook, const char *model, char **program) {

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
