<?php
/**
 * Drive a wpwatch test WordPress site through WordPress's own functions, the
 * way the editor, importers, plugins and cron do, and print JSON.
 *
 *   php tests/wp/ctl.php --port=8089 [--state=DIR] COMMAND [ARG ...] [--option=value ...]
 *
 * One JSON document goes to stdout. On error the message goes to stderr and
 * the exit status is 1 (2 for a usage error). The state directory defaults to
 * $WPWATCH_WP_STATE, else <repo>/.wp (as for tests/wp/start.sh).
 *
 * Post objects printed by the commands ("post JSON"):
 *   {"id", "type", "status", "title", "content", "slug", "date", "date_gmt",
 *    "modified", "modified_gmt", "link", "categories", "tags", "topics"}
 * Dates are formatted like the REST API ("2020-01-01T00:00:00", no zone;
 * *_gmt is UTC, the others site-local); an unset date_gmt (drafts) is null.
 * categories/tags/topics are term IDs, as in the REST API.
 *
 * Commands (options in [] are optional; NAMES is a comma-separated list of term
 * names, created when missing; DATE is ISO 8601, a value without offset is UTC):
 *   setup [--timezone=UTC] [--permalinks=/%postname%/] [--title=...]
 *       Create or reuse the site: config files, database, wp_install (admin/admin),
 *       options; rewrite rules are rebuilt by the next request.
 *       -> {"port","url","installed": true if installed now, "timezone","permalinks"}
 *   create [--type=post|page|book] [--title=] [--content=] [--status=publish]
 *          [--date=DATE] [--categories=NAMES] [--tags=NAMES] [--topics=NAMES] [--slug=]
 *       wp_insert_post. With --date the post is back-dated like an importer
 *       does it: modified = date.                                    -> post JSON
 *   update ID [--title= --content= --status= --date= --slug= --categories= --tags= --topics=]
 *       wp_update_post, like the editor: modified = now.            -> post JSON
 *   touch ID [--raw]
 *       Re-save with no change (wp_update_post); --raw sets post_modified(_gmt)
 *       to now by SQL only.                                          -> post JSON
 *   trash ID | untrash ID [--previous-status] | delete ID
 *       wp_trash_post / wp_untrash_post (status draft, as WP >= 5.6 does, unless
 *       --previous-status) / wp_delete_post(force).  -> post JSON ({"id", "deleted": true} for delete)
 *   set-terms ID [--categories=NAMES] [--tags=NAMES] [--topics=NAMES] [--append]
 *       wp_set_object_terms only, as plugins do: modified unchanged. -> post JSON
 *   rename-term TAXONOMY OLD NEW
 *       wp_update_term (name only; OLD is a name or slug). -> {"term_id","taxonomy","name","slug"}
 *   schedule [--in=3600] [--type= --title= --content= --categories= --tags= --topics=]
 *       Schedule a post like the editor: created as a draft, then updated to
 *       status future, dated SECONDS ahead (>= 60: WordPress publishes a post
 *       dated less than a minute ahead at once).                     -> post JSON
 *   publish-due ID [--date=DATE]
 *       Let time pass for a scheduled post: its date (default: now) is moved
 *       back by SQL, leaving modified alone, its cron event is moved along,
 *       and the event is run as WP-Cron would (check_and_publish_future_post).
 *       The post goes live with its old modified date. (A future post created
 *       directly, create --status=future --date=..., has modified = date; both
 *       move back together.)                                         -> post JSON
 *   cron
 *       Run every due WP-Cron event (WP-Cron is off on the test sites).
 *       -> [{"hook","args","timestamp"}, ...]
 *   bulk-create N [--type=post] [--status=publish] [--step=60]
 *       N posts as an importer inserts them (WP_IMPORTING, one transaction per
 *       500), back-dated STEP seconds apart, the last STEP seconds ago, so
 *       modified = date.                           -> {"count", "first_id", "last_id", "ids"}
 *   reset [--timezone=] [--permalinks=]
 *       Delete every post of every type (revisions, comments, meta too), every
 *       term except the default category (renamed back to Uncategorized), all
 *       publish_future_post events; optionally set timezone/permalinks again.
 *       Post IDs keep counting up. -> {"deleted_posts", "deleted_terms"}
 *   get ID                                             -> post JSON, or null if no such post
 *   option NAME [VALUE] [--json]
 *       Read or set an option (--json: VALUE is JSON), then read it as a
 *       request would (a number set comes back as a string); setting
 *       permalink_structure also drops the rewrite rules (rebuilt by the next
 *       request).                                                  -> {"name","value"}
 *   app-password [NAME] [--user=LOGIN]   (NAME must be unique; default: a random one)
 *       New application password for LOGIN (default admin; Basic auth over plain
 *       http works because WP_ENVIRONMENT_TYPE is local). -> {"user","password","uuid"}
 *   revoke-app-password UUID [--user=LOGIN]
 *       Delete one application password of LOGIN (default admin). -> {"user","uuid","revoked"}
 *   user LOGIN [--role=ROLE]   (default role: editor)
 *       The user LOGIN, created with a random login password when missing.
 *                                                         -> {"id","login","role"}
 *   autosave ID [--title=T] [--content=C] --as=LOGIN
 *       An autosave revision of the post by LOGIN (wp_create_post_autosave; a
 *       later autosave by the same user overwrites it).          -> {"autosave_id"}
 *   create, update and autosave take --as=LOGIN: act as that user (the post's
 *   author on create; the author of the revision WordPress saves on update).
 *   batch
 *       Run several commands in one PHP process: stdin is a JSON list of
 *       argument lists, e.g. [["create","--title=a"],["touch","5"]]. -> list of results
 */

const WPWATCH_WP_ROOT = '/usr/share/wordpress';
const WPWATCH_DB_USER = 'wordpress';
const WPWATCH_DB_PASSWORD = 'wordpress';

ini_set('display_errors', 'stderr');  // keep stdout pure JSON

class CtlError extends Exception
{
}

class UsageError extends CtlError
{
}

/** Split argv into positional arguments and --name[=value] options. */
function wpwatch_parse_args(array $argv): array
{
    $pos = [];
    $opts = [];
    foreach ($argv as $arg) {
        if (strncmp($arg, '--', 2) === 0) {
            $eq = strpos($arg, '=');
            if ($eq === false) {
                $opts[substr($arg, 2)] = true;
            } else {
                $opts[substr($arg, 2, $eq - 2)] = substr($arg, $eq + 1);
            }
        } else {
            $pos[] = $arg;
        }
    }
    return [$pos, $opts];
}

function wpwatch_opt(array $opts, string $name, $default = null)
{
    return array_key_exists($name, $opts) ? $opts[$name] : $default;
}

/** Refuse options a command does not know (a typo must not pass silently). */
function wpwatch_check_opts(string $cmd, array $opts, array $known): void
{
    $unknown = array_diff(array_keys($opts), $known);
    if ($unknown) {
        throw new UsageError("$cmd: unknown option(s) --" . implode(', --', $unknown)
            . ($known ? '; known: --' . implode(', --', $known) : ''));
    }
}

function wpwatch_int_arg(array $pos, int $i, string $what): int
{
    if (!isset($pos[$i]) || !ctype_digit((string) $pos[$i])) {
        throw new UsageError("missing or invalid $what");
    }
    return (int) $pos[$i];
}

/** Write a file only when its content changes, atomically (rename). */
function wpwatch_write_file(string $path, string $content): bool
{
    if (is_file($path) && file_get_contents($path) === $content) {
        return false;
    }
    if (!is_dir(dirname($path)) && !mkdir(dirname($path), 0755, true) && !is_dir(dirname($path))) {
        throw new CtlError("cannot create directory " . dirname($path));
    }
    $tmp = $path . '.tmp' . getmypid();
    if (file_put_contents($tmp, $content) === false || !rename($tmp, $path)) {
        throw new CtlError("cannot write $path (run as root: /etc/wordpress is root's)");
    }
    return true;
}

// ---------------------------------------------------------------------------
// Site configuration (before WordPress is loaded)

function wpwatch_site_config_path(string $state, int $port): string
{
    return "$state/sites/$port/config.php";
}

/**
 * Debian's wp-config.php loads /etc/wordpress/config-<host>.php and ignores the
 * port (docs/wordpress-rest.md §14). This dispatcher, installed as config-127.0.0.1.php
 * and config-localhost.php, loads the config of the site on the request's port from
 * the state directory in $WPWATCH_WP_STATE (set for php -S and ctl.php), or else
 * /etc/wordpress/site-<port>.php. Same content for every state directory.
 */
function wpwatch_dispatcher(): string
{
    return <<<'PHP'
<?php
// Installed by wpwatch tests/wp/ctl.php setup: the wpwatch test sites, one per port.
// Debian's wp-config.php loads this file for http://127.0.0.1:<any port>/; the
// site's own config is <$WPWATCH_WP_STATE>/sites/<port>/config.php, or else
// /etc/wordpress/site-<port>.php.
$wpwatch_port = (int) ($_SERVER['SERVER_PORT'] ?? 0);
if (!$wpwatch_port && preg_match('/:(\d+)$/', $_SERVER['HTTP_HOST'] ?? '', $wpwatch_m)) {
    $wpwatch_port = (int) $wpwatch_m[1];
}
$wpwatch_state = getenv('WPWATCH_WP_STATE');
$wpwatch_config = $wpwatch_state ? "$wpwatch_state/sites/$wpwatch_port/config.php"
    : "/etc/wordpress/site-$wpwatch_port.php";
if (!is_file($wpwatch_config)) {
    header('HTTP/1.0 404 Not Found');
    echo "No wpwatch test site on port $wpwatch_port: $wpwatch_config is missing (see tests/wordpress.py).\n";
    exit(1);
}
require $wpwatch_config;
PHP;
}

function wpwatch_site_config(string $state, int $port): string
{
    $vars = [
        'port' => $port,
        'db_name' => "wp_$port",
        'db_host' => "localhost:$state/mysqld.sock",
        'url' => "http://127.0.0.1:$port",
        'mu_dir' => __DIR__ . '/mu-plugins',
    ];
    $e = array_map(function ($v) {
        return var_export((string) $v, true);
    }, $vars);
    $user = var_export(WPWATCH_DB_USER, true);
    $password = var_export(WPWATCH_DB_PASSWORD, true);
    return <<<PHP
<?php
// Generated by tests/wp/ctl.php setup: wpwatch test site on port {$vars['port']}.
// Regenerated by every setup; do not edit (a running php -S may keep using an
// old copy for up to 2 s: opcache revalidate_freq).
define('DB_NAME', {$e['db_name']});
define('DB_USER', $user);
define('DB_PASSWORD', $password);
define('DB_HOST', {$e['db_host']});
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
\$table_prefix = 'wp_';
define('WP_HOME', {$e['url']});
define('WP_SITEURL', {$e['url']});
// The packaged theme and plugins (/usr/share/wordpress/wp-content, served by php -S
// as /wp-content/) instead of Debian's empty /var/lib/wordpress/wp-content.
define('WP_CONTENT_DIR', '/usr/share/wordpress/wp-content');
// The must-use plugin straight from this checkout (book type, topic taxonomy).
define('WPMU_PLUGIN_DIR', {$e['mu_dir']});
define('DISABLE_WP_CRON', true);         // cron runs only through ctl.php cron / publish-due
define('WP_ENVIRONMENT_TYPE', 'local');  // application passwords over plain http
define('WP_HTTP_BLOCK_EXTERNAL', true);  // no update checks: no internet here
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);

PHP;
}

/** Create the database and config files of a site (idempotent). */
function wpwatch_prepare_site(string $state, int $port): void
{
    $sock = "$state/mysqld.sock";
    if (!file_exists($sock)) {
        throw new CtlError("MariaDB is not running for state dir $state (no $sock): run tests/wp/start.sh");
    }
    mysqli_report(MYSQLI_REPORT_OFF);
    $db = @mysqli_connect('localhost', WPWATCH_DB_USER, WPWATCH_DB_PASSWORD, '', 0, $sock);
    if (!$db) {
        throw new CtlError("cannot connect to MariaDB on $sock: " . mysqli_connect_error() . " (run tests/wp/start.sh)");
    }
    if (!mysqli_query($db, "CREATE DATABASE IF NOT EXISTS `wp_$port` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")) {
        throw new CtlError("cannot create database wp_$port: " . mysqli_error($db));
    }
    mysqli_close($db);
    foreach (['config-127.0.0.1.php', 'config-localhost.php'] as $name) {
        wpwatch_write_file("/etc/wordpress/$name", wpwatch_dispatcher());
    }
    wpwatch_write_file(wpwatch_site_config_path($state, $port), wpwatch_site_config($state, $port));
}

/** Make this CLI process look like a request to http://127.0.0.1:$port/. */
function wpwatch_fake_request(string $state, int $port): void
{
    if (!is_file(wpwatch_site_config_path($state, $port))) {
        throw new CtlError("no test site on port $port in $state: create it first "
            . "(ctl.php --port=$port setup, or WordPressStack.site($port))");
    }
    putenv("WPWATCH_WP_STATE=$state");  // read by the dispatcher
    $_SERVER['HTTP_HOST'] = "127.0.0.1:$port";  // Debian's wp-config.php picks config-127.0.0.1.php
    $_SERVER['SERVER_NAME'] = '127.0.0.1';
    $_SERVER['SERVER_PORT'] = (string) $port;
    $_SERVER['REQUEST_URI'] = '/';
    $_SERVER['REQUEST_METHOD'] = 'GET';
    $_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
    $_SERVER['REMOTE_ADDR'] = '127.0.0.1';
}

// ---------------------------------------------------------------------------
// Helpers over WordPress

function wpwatch_rest_date(?string $mysql): ?string
{
    if ($mysql === null || $mysql === '' || $mysql === '0000-00-00 00:00:00') {
        return null;
    }
    return str_replace(' ', 'T', $mysql);
}

/** Parse an ISO 8601 date (no offset = UTC) into [local, gmt] MySQL datetimes. */
function wpwatch_parse_date(string $value): array
{
    try {
        $dt = new DateTimeImmutable($value, new DateTimeZone('UTC'));
    } catch (Exception $e) {
        throw new UsageError("invalid date '$value' (use ISO 8601, e.g. 2020-01-01T00:00:00Z)");
    }
    $gmt = $dt->setTimezone(new DateTimeZone('UTC'))->format('Y-m-d H:i:s');
    return [get_date_from_gmt($gmt), $gmt];
}

function wpwatch_post_json(int $id): ?array
{
    clean_post_cache($id);
    $post = get_post($id);
    if (!$post) {
        return null;
    }
    $ids = function (string $tax) use ($post) {
        if (!is_object_in_taxonomy($post->post_type, $tax)) {
            return [];
        }
        $terms = wp_get_object_terms($post->ID, $tax, ['fields' => 'ids', 'orderby' => 'term_id']);
        return is_wp_error($terms) ? [] : array_map('intval', $terms);
    };
    return [
        'id' => (int) $post->ID,
        'type' => $post->post_type,
        'status' => $post->post_status,
        'title' => $post->post_title,
        'content' => $post->post_content,
        'slug' => $post->post_name,
        'date' => wpwatch_rest_date($post->post_date),
        'date_gmt' => wpwatch_rest_date($post->post_date_gmt),
        'modified' => wpwatch_rest_date($post->post_modified),
        'modified_gmt' => wpwatch_rest_date($post->post_modified_gmt),
        'link' => get_permalink($post),
        'categories' => $ids('category'),
        'tags' => $ids('post_tag'),
        'topics' => $ids('topic'),
    ];
}

function wpwatch_existing_post(int $id): WP_Post
{
    $post = get_post($id);
    if (!$post) {
        throw new CtlError("no post with ID $id");
    }
    return $post;
}

/** Term IDs for comma-separated names (or slugs) in $tax, creating missing terms. */
function wpwatch_term_ids(string $tax, string $names): array
{
    $ids = [];
    foreach (array_filter(array_map('trim', explode(',', $names)), 'strlen') as $name) {
        $term = get_term_by('name', $name, $tax) ?: get_term_by('slug', $name, $tax);
        if (!$term) {
            $new = wp_insert_term($name, $tax);
            if (is_wp_error($new)) {
                throw new CtlError("cannot create $tax '$name': " . $new->get_error_message());
            }
            $ids[] = (int) $new['term_id'];
        } else {
            $ids[] = (int) $term->term_id;
        }
    }
    return $ids;
}

const WPWATCH_TERM_OPTIONS = ['categories' => 'category', 'tags' => 'post_tag', 'topics' => 'topic'];

/** The --categories/--tags/--topics options given, as [taxonomy => term IDs]. */
function wpwatch_terms_from_opts(array $opts, string $post_type): array
{
    $terms = [];
    foreach (WPWATCH_TERM_OPTIONS as $opt => $tax) {
        if (!array_key_exists($opt, $opts)) {
            continue;
        }
        if (!is_object_in_taxonomy($post_type, $tax)) {
            throw new UsageError("post type $post_type has no taxonomy $tax (--$opt)");
        }
        $terms[$tax] = wpwatch_term_ids($tax, $opts[$opt] === true ? '' : $opts[$opt]);
    }
    return $terms;
}

/** wp_insert_post/wp_update_post arguments for the terms, as the editor passes them. */
function wpwatch_terms_postarr(array $terms): array
{
    $arr = [];
    foreach ($terms as $tax => $ids) {
        if ($tax === 'category') {
            // An empty list would mean "default category" in wp_insert_post.
            $arr['post_category'] = $ids ?: [(int) get_option('default_category')];
        } else {
            $arr['tax_input'][$tax] = $ids;
        }
    }
    return $arr;
}

function wpwatch_check_wp_result($result, string $what): int
{
    if (is_wp_error($result)) {
        throw new CtlError("$what failed: " . $result->get_error_message());
    }
    if (!$result) {
        throw new CtlError("$what failed");
    }
    return (int) $result;
}

/**
 * Run due WP-Cron events as wp-cron.php does: reschedule recurring ones,
 * unschedule, fire the hook. $filter(hook, args) selects events.
 */
function wpwatch_run_cron(?callable $filter = null): array
{
    if (!defined('DOING_CRON')) {
        define('DOING_CRON', true);
    }
    $ran = [];
    $now = microtime(true);
    foreach (_get_cron_array() ?: [] as $timestamp => $hooks) {
        if ($timestamp > $now) {
            continue;
        }
        foreach ($hooks as $hook => $events) {
            foreach ($events as $event) {
                if ($filter && !$filter($hook, $event['args'])) {
                    continue;
                }
                if ($event['schedule']) {
                    wp_reschedule_event($timestamp, $event['schedule'], $hook, $event['args']);
                }
                wp_unschedule_event($timestamp, $hook, $event['args']);
                do_action_ref_array($hook, $event['args']);
                $ran[] = ['hook' => $hook, 'args' => $event['args'], 'timestamp' => (int) $timestamp];
            }
        }
    }
    return $ran;
}

/**
 * Set the permalink structure and drop the rewrite rules, which WordPress rebuilds
 * on the next request. Not flush_rewrite_rules() here: post types and taxonomies
 * add their rules (/book/<slug>/, /topic/<slug>/) only when they are registered
 * while a structure is set, so rules built in this process would lack them.
 */
function wpwatch_set_permalinks(string $structure): void
{
    global $wp_rewrite;
    if (get_option('permalink_structure') !== $structure) {
        $wp_rewrite->set_permalink_structure($structure);
    }
    delete_option('rewrite_rules');
}

function wpwatch_set_timezone(string $tz): void
{
    if (!in_array($tz, timezone_identifiers_list(), true)) {
        throw new UsageError("unknown timezone '$tz'");
    }
    update_option('timezone_string', $tz);
    update_option('gmt_offset', '');  // the offset follows timezone_string
}

// ---------------------------------------------------------------------------
// Commands: each takes (positional args, options) and returns JSON-able data.

/** Runs with WP_INSTALLING, after wpwatch_prepare_site(). */
function cmd_setup(array $pos, array $opts)
{
    $port = (int) $_SERVER['SERVER_PORT'];
    $timezone = wpwatch_opt($opts, 'timezone', 'UTC');
    $permalinks = wpwatch_opt($opts, 'permalinks', '/%postname%/');
    $permalinks = $permalinks === true ? '' : $permalinks;
    require_once ABSPATH . 'wp-admin/includes/upgrade.php';
    $installed = false;
    if (!is_blog_installed()) {
        $title = wpwatch_opt($opts, 'title', "wpwatch test site $port");
        $result = wp_install($title, 'admin', 'admin@example.org', 1, '', 'admin');
        $installed = true;
        // wp_install ran as nobody; later ctl calls act as admin (user 1).
        if ((int) $result['user_id'] !== 1) {
            throw new CtlError("wp_install created admin as user {$result['user_id']}, expected 1");
        }
    }
    wpwatch_set_timezone($timezone);
    wpwatch_set_permalinks($permalinks);
    return ['port' => $port, 'url' => home_url(), 'installed' => $installed,
        'timezone' => get_option('timezone_string'), 'permalinks' => get_option('permalink_structure')];
}

function cmd_create(array $pos, array $opts)
{
    wpwatch_check_opts('create', $opts, ['type', 'title', 'content', 'status', 'date', 'slug',
        'categories', 'tags', 'topics', 'as']);
    $author = wpwatch_act_as($opts);
    $type = wpwatch_opt($opts, 'type', 'post');
    if (!post_type_exists($type)) {
        throw new UsageError("unknown post type $type");
    }
    $arr = [
        'post_type' => $type,
        'post_title' => (string) wpwatch_opt($opts, 'title', ''),
        'post_content' => (string) wpwatch_opt($opts, 'content', ''),
        'post_status' => wpwatch_opt($opts, 'status', 'publish'),
        'post_author' => $author,
    ];
    if (isset($opts['slug'])) {
        $arr['post_name'] = $opts['slug'];
    }
    if (isset($opts['date'])) {
        [$arr['post_date'], $arr['post_date_gmt']] = wpwatch_parse_date($opts['date']);
    }
    $arr += wpwatch_terms_postarr(wpwatch_terms_from_opts($opts, $type));
    $id = wpwatch_check_wp_result(wp_insert_post(wp_slash($arr), true), 'wp_insert_post');
    return wpwatch_post_json($id);
}

function cmd_update(array $pos, array $opts)
{
    wpwatch_check_opts('update', $opts, ['title', 'content', 'status', 'date', 'slug',
        'categories', 'tags', 'topics', 'as']);
    wpwatch_act_as($opts);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    $post = wpwatch_existing_post($id);
    $arr = ['ID' => $id];
    $fields = ['title' => 'post_title', 'content' => 'post_content', 'status' => 'post_status', 'slug' => 'post_name'];
    foreach ($fields as $opt => $field) {
        if (isset($opts[$opt])) {
            $arr[$field] = $opts[$opt] === true ? '' : $opts[$opt];
        }
    }
    if (isset($opts['date'])) {
        [$arr['post_date'], $arr['post_date_gmt']] = wpwatch_parse_date($opts['date']);
        $arr['edit_date'] = true;
    }
    $arr += wpwatch_terms_postarr(wpwatch_terms_from_opts($opts, $post->post_type));
    wpwatch_check_wp_result(wp_update_post(wp_slash($arr), true), 'wp_update_post');
    return wpwatch_post_json($id);
}

function cmd_touch(array $pos, array $opts)
{
    global $wpdb;
    wpwatch_check_opts('touch', $opts, ['raw']);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    wpwatch_existing_post($id);
    if (!empty($opts['raw'])) {
        $wpdb->update($wpdb->posts, [
            'post_modified' => current_time('mysql'),
            'post_modified_gmt' => current_time('mysql', true),
        ], ['ID' => $id]);
        clean_post_cache($id);
    } else {
        wpwatch_check_wp_result(wp_update_post(['ID' => $id], true), 'wp_update_post');
    }
    return wpwatch_post_json($id);
}

function cmd_trash(array $pos, array $opts)
{
    wpwatch_check_opts('trash', $opts, []);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    wpwatch_existing_post($id);
    if (!wp_trash_post($id)) {
        throw new CtlError("wp_trash_post($id) failed (already in the trash?)");
    }
    return wpwatch_post_json($id);
}

function cmd_untrash(array $pos, array $opts)
{
    wpwatch_check_opts('untrash', $opts, ['previous-status']);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    wpwatch_existing_post($id);
    if (!empty($opts['previous-status'])) {
        add_filter('wp_untrash_post_status', 'wp_untrash_post_set_previous_status', 10, 3);
    }
    if (!wp_untrash_post($id)) {
        throw new CtlError("wp_untrash_post($id) failed (not in the trash?)");
    }
    return wpwatch_post_json($id);
}

function cmd_delete(array $pos, array $opts)
{
    wpwatch_check_opts('delete', $opts, []);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    wpwatch_existing_post($id);
    if (!wp_delete_post($id, true)) {
        throw new CtlError("wp_delete_post($id) failed");
    }
    return ['id' => $id, 'deleted' => true];
}

function cmd_set_terms(array $pos, array $opts)
{
    wpwatch_check_opts('set-terms', $opts, ['categories', 'tags', 'topics', 'append']);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    $post = wpwatch_existing_post($id);
    $terms = wpwatch_terms_from_opts($opts, $post->post_type);
    if (!$terms) {
        throw new UsageError('set-terms: give --categories, --tags and/or --topics');
    }
    foreach ($terms as $tax => $ids) {
        $result = wp_set_object_terms($id, $ids, $tax, !empty($opts['append']));
        if (is_wp_error($result)) {
            throw new CtlError("wp_set_object_terms failed: " . $result->get_error_message());
        }
    }
    return wpwatch_post_json($id);
}

function cmd_rename_term(array $pos, array $opts)
{
    wpwatch_check_opts('rename-term', $opts, []);
    if (count($pos) !== 3) {
        throw new UsageError('usage: rename-term TAXONOMY OLD NEW');
    }
    [$tax, $old, $new] = $pos;
    if (!taxonomy_exists($tax)) {
        throw new UsageError("unknown taxonomy $tax");
    }
    $term = get_term_by('name', $old, $tax) ?: get_term_by('slug', $old, $tax);
    if (!$term) {
        throw new CtlError("no $tax named '$old'");
    }
    $result = wp_update_term($term->term_id, $tax, ['name' => $new]);
    if (is_wp_error($result)) {
        throw new CtlError("wp_update_term failed: " . $result->get_error_message());
    }
    $term = get_term($term->term_id, $tax);
    return ['term_id' => (int) $term->term_id, 'taxonomy' => $tax, 'name' => $term->name, 'slug' => $term->slug];
}

function cmd_schedule(array $pos, array $opts)
{
    wpwatch_check_opts('schedule', $opts, ['in', 'type', 'title', 'content', 'categories', 'tags', 'topics']);
    $in = (int) wpwatch_opt($opts, 'in', 3600);
    if ($in < 60) {
        throw new UsageError("--in=$in: WordPress publishes a post dated less than 60 s ahead at once; "
            . "schedule at least 60 s ahead and use publish-due");
    }
    $draft = cmd_create([], ['status' => 'draft'] + array_diff_key($opts, ['in' => 1]));
    [$local, $gmt] = wpwatch_parse_date(gmdate('Y-m-d\TH:i:s\Z', time() + $in));
    $arr = ['ID' => $draft['id'], 'post_status' => 'future', 'post_date' => $local,
        'post_date_gmt' => $gmt, 'edit_date' => true];
    wpwatch_check_wp_result(wp_update_post($arr, true), 'wp_update_post');
    $post = wpwatch_post_json($draft['id']);
    if ($post['status'] !== 'future') {
        throw new CtlError("scheduled post {$draft['id']} has status {$post['status']}, expected future");
    }
    return $post;
}

function cmd_publish_due(array $pos, array $opts)
{
    global $wpdb;
    wpwatch_check_opts('publish-due', $opts, ['date']);
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    $post = wpwatch_existing_post($id);
    if ($post->post_status !== 'future') {
        throw new CtlError("post $id has status $post->post_status, not future");
    }
    [$local, $gmt] = wpwatch_parse_date(wpwatch_opt($opts, 'date', gmdate('Y-m-d\TH:i:s\Z')));
    $when = strtotime("$gmt UTC");
    if ($when > time()) {
        throw new UsageError("--date must not be in the future");
    }
    // Time passes: the scheduled moment is now (or --date). Only the date
    // columns move; post_modified(_gmt) keep the last edit, as in reality.
    $columns = ['post_date' => $local, 'post_date_gmt' => $gmt];
    // Exception: a future post inserted directly (wp_insert_post/REST with a date,
    // not the editor's draft -> future) has modified = its future date; that
    // timestamp moves back with the date, so modified = date stays true.
    $shift = strtotime("$post->post_date_gmt UTC") - $when;
    $modified = strtotime("$post->post_modified_gmt UTC");
    if ($modified > $when) {
        $columns['post_modified_gmt'] = gmdate('Y-m-d H:i:s', $modified - $shift);
        $columns['post_modified'] = get_date_from_gmt($columns['post_modified_gmt']);
    }
    $wpdb->update($wpdb->posts, $columns, ['ID' => $id]);
    clean_post_cache($id);
    wp_clear_scheduled_hook('publish_future_post', [$id]);
    wp_schedule_single_event($when, 'publish_future_post', [$id]);
    $ran = wpwatch_run_cron(function ($hook, $args) use ($id) {
        return $hook === 'publish_future_post' && array_values($args) === [$id];
    });
    if (!$ran) {
        throw new CtlError("the publish_future_post event of post $id did not run");
    }
    return wpwatch_post_json($id);
}

function cmd_cron(array $pos, array $opts)
{
    wpwatch_check_opts('cron', $opts, []);
    return wpwatch_run_cron();
}

function cmd_bulk_create(array $pos, array $opts)
{
    global $wpdb;
    wpwatch_check_opts('bulk-create', $opts, ['type', 'status', 'step']);
    $n = wpwatch_int_arg($pos, 0, 'count N');
    $type = wpwatch_opt($opts, 'type', 'post');
    $status = wpwatch_opt($opts, 'status', 'publish');
    $step = (int) wpwatch_opt($opts, 'step', 60);
    if (!post_type_exists($type)) {
        throw new UsageError("unknown post type $type");
    }
    // What importers (wordpress-importer) do to go fast.
    if (!defined('WP_IMPORTING')) {
        define('WP_IMPORTING', true);
    }
    wp_suspend_cache_invalidation(true);
    wp_defer_term_counting(true);
    $start = time() - $n * $step;
    $ids = [];
    $wpdb->query('START TRANSACTION');
    try {
        for ($i = 0; $i < $n; $i++) {
            [$local, $gmt] = wpwatch_parse_date(gmdate('Y-m-d\TH:i:s\Z', $start + $i * $step));
            $num = $i + 1;
            $ids[] = wpwatch_check_wp_result(wp_insert_post([
                'post_type' => $type,
                'post_status' => $status,
                'post_author' => 1,
                'post_title' => "Bulk $type $num",
                'post_content' => "<p>Bulk $type $num of $n.</p>",
                'post_date' => $local,
                'post_date_gmt' => $gmt,
            ], true), 'wp_insert_post');
            if ($num % 500 === 0) {
                $wpdb->query('COMMIT');
                $wpdb->query('START TRANSACTION');
            }
        }
        $wpdb->query('COMMIT');
    } catch (Throwable $e) {
        $wpdb->query('ROLLBACK');
        throw $e;
    }
    wp_suspend_cache_invalidation(false);
    wp_defer_term_counting(false);  // recounts the deferred terms
    return ['count' => $n, 'first_id' => $ids ? $ids[0] : null, 'last_id' => $ids ? end($ids) : null, 'ids' => $ids];
}

function cmd_reset(array $pos, array $opts)
{
    global $wpdb;
    wpwatch_check_opts('reset', $opts, ['timezone', 'permalinks']);
    $default_cat = (int) get_option('default_category');
    // DELETE, not TRUNCATE: AUTO_INCREMENT goes on, so post IDs are never reused,
    // as on a real site.
    $deleted_posts = (int) $wpdb->query("DELETE FROM $wpdb->posts");
    foreach ([$wpdb->postmeta, $wpdb->comments, $wpdb->commentmeta, $wpdb->term_relationships] as $table) {
        $wpdb->query("DELETE FROM $table");
    }
    $deleted_terms = (int) $wpdb->query($wpdb->prepare("DELETE FROM $wpdb->terms WHERE term_id <> %d", $default_cat));
    $wpdb->query($wpdb->prepare("DELETE FROM $wpdb->term_taxonomy WHERE term_id <> %d", $default_cat));
    $wpdb->query($wpdb->prepare("DELETE FROM $wpdb->termmeta WHERE term_id <> %d", $default_cat));
    $wpdb->query("UPDATE $wpdb->term_taxonomy SET count = 0, parent = 0, description = ''");
    $wpdb->update($wpdb->terms, ['name' => 'Uncategorized', 'slug' => 'uncategorized'], ['term_id' => $default_cat]);
    update_option('sticky_posts', []);
    delete_option('category_children');
    $crons = _get_cron_array() ?: [];
    foreach ($crons as $ts => $hooks) {
        unset($crons[$ts]['publish_future_post']);
        if (!$crons[$ts]) {
            unset($crons[$ts]);
        }
    }
    _set_cron_array($crons);
    wp_cache_flush();
    if (isset($opts['timezone'])) {
        wpwatch_set_timezone($opts['timezone']);
    }
    if (isset($opts['permalinks'])) {
        wpwatch_set_permalinks($opts['permalinks'] === true ? '' : $opts['permalinks']);
    }
    return ['deleted_posts' => $deleted_posts, 'deleted_terms' => $deleted_terms];
}

function cmd_get(array $pos, array $opts)
{
    wpwatch_check_opts('get', $opts, []);
    return wpwatch_post_json(wpwatch_int_arg($pos, 0, 'post ID'));
}

function cmd_option(array $pos, array $opts)
{
    wpwatch_check_opts('option', $opts, ['json']);
    if (!isset($pos[0]) || count($pos) > 2) {
        throw new UsageError('usage: option NAME [VALUE] [--json]');
    }
    $name = $pos[0];
    if (count($pos) === 2) {
        $value = $pos[1];
        if (!empty($opts['json'])) {
            $value = json_decode($value, true);
            if (json_last_error() !== JSON_ERROR_NONE) {
                throw new UsageError("option $name: VALUE is not valid JSON");
            }
        }
        if ($name === 'permalink_structure') {
            wpwatch_set_permalinks((string) $value);
        } else {
            update_option($name, $value);
        }
        // Read back as the next request will (scalars come back as strings).
        wp_cache_flush();
    }
    return ['name' => $name, 'value' => get_option($name, null)];
}

/** The user with login $login (a CtlError when there is none). */
function wpwatch_user(string $login): WP_User
{
    $user = get_user_by('login', $login);
    if (!$user) {
        throw new CtlError("no user with login $login (create it with: user $login)");
    }
    return $user;
}

/** --as=LOGIN: make that user the current one for this command; its ID (admin: 1). */
function wpwatch_act_as(array $opts): int
{
    $login = wpwatch_opt($opts, 'as');
    $id = $login === null ? 1 : wpwatch_user((string) $login)->ID;
    wp_set_current_user($id);
    return $id;
}

function cmd_app_password(array $pos, array $opts)
{
    wpwatch_check_opts('app-password', $opts, ['user']);
    $user = wpwatch_user((string) wpwatch_opt($opts, 'user', 'admin'));
    $name = $pos[0] ?? 'wpwatch tests ' . wp_generate_password(8, false);  // names must be unique
    $result = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => $name]);
    if (is_wp_error($result)) {
        throw new CtlError("cannot create an application password: " . $result->get_error_message());
    }
    [$password, $item] = $result;
    return ['user' => $user->user_login, 'password' => $password, 'uuid' => $item['uuid']];
}

function cmd_revoke_app_password(array $pos, array $opts)
{
    wpwatch_check_opts('revoke-app-password', $opts, ['user']);
    $user = wpwatch_user((string) wpwatch_opt($opts, 'user', 'admin'));
    $uuid = $pos[0] ?? '';
    $result = WP_Application_Passwords::delete_application_password($user->ID, $uuid);
    if (is_wp_error($result)) {
        throw new CtlError("cannot revoke application password $uuid: " . $result->get_error_message());
    }
    return ['user' => $user->user_login, 'uuid' => $uuid, 'revoked' => true];
}

function cmd_user(array $pos, array $opts)
{
    wpwatch_check_opts('user', $opts, ['role']);
    $login = $pos[0] ?? '';
    if (!preg_match('/^[a-z0-9_.-]+$/', $login)) {
        throw new UsageError('user: LOGIN must be lower-case letters, digits, _ . -');
    }
    $user = get_user_by('login', $login);
    if (!$user) {
        $id = wpwatch_check_wp_result(wp_insert_user([
            'user_login' => $login,
            'user_pass' => wp_generate_password(24),
            'user_email' => "$login@example.invalid",
            'display_name' => ucfirst($login),
            'role' => (string) wpwatch_opt($opts, 'role', 'editor'),
        ]), 'wp_insert_user');
        $user = get_user_by('id', $id);
    }
    return ['id' => $user->ID, 'login' => $user->user_login, 'role' => $user->roles[0] ?? null];
}

function cmd_autosave(array $pos, array $opts)
{
    wpwatch_check_opts('autosave', $opts, ['title', 'content', 'as']);
    if (!isset($opts['as'])) {
        throw new UsageError('autosave: --as=LOGIN is required (an autosave belongs to a user)');
    }
    $id = wpwatch_int_arg($pos, 0, 'post ID');
    $post = wpwatch_existing_post($id);
    wpwatch_act_as($opts);
    $data = [
        'post_ID' => $id,
        'post_title' => (string) wpwatch_opt($opts, 'title', $post->post_title),
        'post_content' => (string) wpwatch_opt($opts, 'content', $post->post_content),
        'post_excerpt' => $post->post_excerpt,
    ];
    require_once ABSPATH . 'wp-admin/includes/post.php';  // wp_create_post_autosave
    $result = wp_create_post_autosave(wp_slash($data));
    return ['autosave_id' => (int) wpwatch_check_wp_result($result, 'wp_create_post_autosave')];
}

const WPWATCH_COMMANDS = [
    'create' => 'cmd_create', 'update' => 'cmd_update', 'touch' => 'cmd_touch',
    'trash' => 'cmd_trash', 'untrash' => 'cmd_untrash', 'delete' => 'cmd_delete',
    'set-terms' => 'cmd_set_terms', 'rename-term' => 'cmd_rename_term',
    'schedule' => 'cmd_schedule', 'publish-due' => 'cmd_publish_due', 'cron' => 'cmd_cron',
    'bulk-create' => 'cmd_bulk_create', 'reset' => 'cmd_reset', 'get' => 'cmd_get',
    'option' => 'cmd_option', 'app-password' => 'cmd_app_password',
    'revoke-app-password' => 'cmd_revoke_app_password', 'user' => 'cmd_user',
    'autosave' => 'cmd_autosave',
];

function wpwatch_run_command(array $argv)
{
    $cmd = array_shift($argv);
    [$pos, $opts] = wpwatch_parse_args($argv);
    if (!isset(WPWATCH_COMMANDS[$cmd])) {
        throw new UsageError("unknown command '$cmd'; commands: setup, batch, "
            . implode(', ', array_keys(WPWATCH_COMMANDS)));
    }
    return call_user_func(WPWATCH_COMMANDS[$cmd], $pos, $opts);
}

function wpwatch_fail(Throwable $e): int
{
    fwrite(STDERR, 'ctl.php: ' . $e->getMessage() . "\n");
    return $e instanceof UsageError ? 2 : 1;
}

/** Parse --port/--state and prepare the fake request; returns the command's argv. */
function wpwatch_start(array $argv): array
{
    $global = [];
    while ($argv && preg_match('/^--(port|state)=(.*)$/', $argv[0], $m)) {
        $global[$m[1]] = $m[2];
        array_shift($argv);
    }
    if (!isset($global['port']) || !ctype_digit($global['port']) || !$argv) {
        throw new UsageError('usage: php ctl.php --port=PORT [--state=DIR] COMMAND [ARGS] (see the header of ctl.php)');
    }
    $port = (int) $global['port'];
    $state = $global['state'] ?? (getenv('WPWATCH_WP_STATE') ?: dirname(__DIR__, 2) . '/.wp');
    if (!is_dir($state)) {
        throw new CtlError("state directory $state does not exist: run tests/wp/start.sh");
    }
    $state = realpath($state);
    if ($argv[0] === 'setup') {
        [, $opts] = wpwatch_parse_args(array_slice($argv, 1));
        wpwatch_check_opts('setup', $opts, ['timezone', 'permalinks', 'title']);
        wpwatch_prepare_site($state, $port);
        define('WP_INSTALLING', true);  // else WordPress redirects to install.php and dies
    }
    wpwatch_fake_request($state, $port);
    return $argv;
}

function wpwatch_main(array $argv): int
{
    try {
        if ($argv[0] === 'setup') {
            [$pos, $opts] = wpwatch_parse_args(array_slice($argv, 1));
            $result = cmd_setup($pos, $opts);
        } else {
            wp_set_current_user(1);  // admin: act as the editor would (capabilities, unfiltered_html)
            if ($argv[0] === 'batch') {
                $batch = json_decode(stream_get_contents(STDIN), true);
                if (!is_array($batch)) {
                    throw new UsageError('batch: stdin must be a JSON list of argument lists');
                }
                $result = [];
                foreach ($batch as $i => $args) {
                    wp_set_current_user(1);  // --as holds for one command only
                    try {
                        $result[] = wpwatch_run_command(array_map('strval', (array) $args));
                    } catch (CtlError $e) {
                        $class = get_class($e);
                        throw new $class("batch item $i (" . implode(' ', (array) $args) . '): ' . $e->getMessage());
                    }
                }
            } else {
                $result = wpwatch_run_command($argv);
            }
        }
    } catch (Throwable $e) {
        return wpwatch_fail($e);
    }
    echo json_encode($result, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT), "\n";
    return 0;
}

try {
    $wpwatch_argv = wpwatch_start(array_slice($argv, 1));
} catch (Throwable $e) {
    exit(wpwatch_fail($e));
}

// WordPress ends the process itself on some errors (wp_die(), e.g. "Error
// establishing a database connection", printed as HTML with exit status 0):
// make that a failure.
$wpwatch_done = false;
register_shutdown_function(function () {
    if (!$GLOBALS['wpwatch_done']) {
        fwrite(STDERR, "ctl.php: WordPress stopped the process (wp_die?); its output is on stdout\n");
        exit(1);
    }
});

// Loaded at file scope, not in a function: wp-config.php and wp-settings.php
// create globals ($table_prefix, $wp_version, ...) as plain variables.
require_once WPWATCH_WP_ROOT . '/wp-load.php';

$wpwatch_status = wpwatch_main($wpwatch_argv);
$wpwatch_done = true;
exit($wpwatch_status);
