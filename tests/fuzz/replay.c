/* Runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer: the corpus
 * (seeds and every crash once found) is a regression test of every build, sanitized or
 * not. Usage: replay FILE_OR_DIRECTORY...; prints how many inputs ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return 1;
    }
    uint8_t *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? 2 * capacity : 4096;
            uint8_t *grown = realloc(data, capacity);
            if (!grown) {
                free(data);
                fclose(file);
                return 1;
            }
            data = grown;
        }
        size_t got = fread(data + size, 1, capacity - size, file);
        size += got;
        if (got == 0)
            break;
    }
    fclose(file);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Replays a file, or every regular file of a directory (not recursively). */
static int replay_path(const char *path, size_t *count)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(info.st_mode)) {
        ++*count;
        return replay_file(path);
    }
    DIR *dir = opendir(path);
    if (!dir) {
        perror(path);
        return 1;
    }
    int failed = 0;
    for (struct dirent *entry; (entry = readdir(dir));) {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        if (entry->d_name[0] != '.' && stat(child, &info) == 0 && S_ISREG(info.st_mode)) {
            ++*count;
            failed |= replay_file(child);
        }
    }
    closedir(dir);
    return failed;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= replay_path(argv[i], &count);
    printf("replayed %zu input(s)\n", count);
    return failed || count == 0;
}
