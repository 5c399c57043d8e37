/* Where the keystore folders come from, in order of precedence:
 *   KZP11_KEYSTORE (':'-separated) > config file > default data folder.
 * The config file is KZP11_CONF, else $XDG_CONFIG_HOME/kzp11/kzp11.conf
 * (~/.config when unset), else /etc/kzp11/kzp11.conf. See kzp11.conf(5). */
#include "configuration.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_dir(kz_config *cfg, const char *dir, size_t len)
{
    char *copy;
    const char *home = getenv("HOME");

    while (len && isspace((unsigned char)dir[0])) {
        dir++;
        len--;
    }
    while (len && isspace((unsigned char)dir[len - 1]))
        len--;
    if (len == 0 || cfg->n_keystore_dirs >= KZ_MAX_KEYSTORE_DIRS)
        return 0;
    if (dir[0] == '~' && (len == 1 || dir[1] == '/') && home) {
        size_t hl = strlen(home);
        copy = malloc(hl + len);
        if (!copy)
            return -1;
        memcpy(copy, home, hl);
        memcpy(copy + hl, dir + 1, len - 1);
        copy[hl + len - 1] = '\0';
    } else {
        copy = strndup(dir, len);
        if (!copy)
            return -1;
    }
    cfg->keystore_dirs[cfg->n_keystore_dirs++] = copy;
    return 0;
}

static int add_dir_list(kz_config *cfg, const char *list)
{
    const char *p = list;

    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (add_dir(cfg, p, len) < 0)
            return -1;
        if (!colon)
            return 0;
        p = colon + 1;
    }
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int kz_config_parse_file(kz_config *cfg, const char *path)
{
    FILE *f = fopen(path, "re");
    char line[4096];
    int rc = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *key, *val, *eq;

        key = trim(line);
        if (*key == '#' || *key == '\0')
            continue;
        eq = strchr(key, '=');
        if (!eq)
            continue;           /* unknown syntax is ignored, as with unknown keys */
        *eq = '\0';
        val = trim(eq + 1);
        key = trim(key);
        if (strcmp(key, "keystore") == 0) {
            if (add_dir_list(cfg, val) < 0)
                rc = -2;
        } else if (strcmp(key, "log_file") == 0) {
            free(cfg->log_file);
            cfg->log_file = strdup(val);
        } else if (strcmp(key, "container_format") == 0) {
            if (strcmp(val, "nca") == 0 || strcmp(val, "pbes2") == 0)
                cfg->write_pbes2 = strcmp(val, "pbes2") == 0;
        } else if (strcmp(key, "password_min_length") == 0) {
            char *end;
            unsigned long v = strtoul(val, &end, 10);
            if (*val && !*end && v >= 1 && v <= 256)
                cfg->password_min_length = v;
        } else if (strcmp(key, "password_rules") == 0) {
            if (strcmp(val, "nca") == 0 || strcmp(val, "none") == 0)
                cfg->password_nca_rules = strcmp(val, "nca") == 0;
        }
    }
    fclose(f);
    return rc;
}

static int try_file(kz_config *cfg, const char *path)
{
    int rc = kz_config_parse_file(cfg, path);

    if (rc == -1)
        return 0;               /* absent or unreadable: try the next one */
    free(cfg->source);
    cfg->source = strdup(path);
    return rc == 0 ? 1 : -1;
}

int kz_config_load(kz_config *cfg)
{
    const char *env = getenv("KZP11_KEYSTORE");
    const char *conf = getenv("KZP11_CONF");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char path[4096];
    int found = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->password_min_length = 8;
    cfg->password_nca_rules = 1;
    if (conf && *conf) {
        found = try_file(cfg, conf);
    } else {
        if (xdg && *xdg)
            snprintf(path, sizeof(path), "%s/kzp11/kzp11.conf", xdg);
        else if (home && *home)
            snprintf(path, sizeof(path), "%s/.config/kzp11/kzp11.conf", home);
        else
            path[0] = '\0';
        if (path[0])
            found = try_file(cfg, path);
        if (found == 0)
            found = try_file(cfg, SYSCONFDIR "/kzp11/kzp11.conf");
    }
    if (found < 0)
        return -1;

    /* The variable replaces the folders, not the rest of the file. */
    if (env && *env) {
        for (size_t i = 0; i < cfg->n_keystore_dirs; i++)
            free(cfg->keystore_dirs[i]);
        cfg->n_keystore_dirs = 0;
        free(cfg->source);
        cfg->source = strdup("KZP11_KEYSTORE");
        return add_dir_list(cfg, env);
    }
    if (cfg->n_keystore_dirs == 0) {
        const char *data = getenv("XDG_DATA_HOME");
        if (data && *data)
            snprintf(path, sizeof(path), "%s/kzp11/keys", data);
        else if (home && *home)
            snprintf(path, sizeof(path), "%s/.local/share/kzp11/keys", home);
        else
            return 0;
        if (!cfg->source)
            cfg->source = strdup("default");
        return add_dir(cfg, path, strlen(path));
    }
    return 0;
}

void kz_config_free(kz_config *cfg)
{
    for (size_t i = 0; i < cfg->n_keystore_dirs; i++)
        free(cfg->keystore_dirs[i]);
    free(cfg->log_file);
    free(cfg->source);
    memset(cfg, 0, sizeof(*cfg));
}
