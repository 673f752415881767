<?php
/**
 * Router for `php -S 127.0.0.1:PORT -t /usr/share/wordpress tests/wp/router.php`,
 * doing what Apache's rewrite rules do for WordPress pretty permalinks:
 * existing static files are served by the built-in server, existing PHP files
 * run as themselves, everything else goes through WordPress's index.php.
 * (Modelled on WP-CLI's `wp server` router.)
 */

$wpwatch_root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$wpwatch_path = '/' . ltrim(rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/'), '/');
$wpwatch_file = realpath($wpwatch_root . $wpwatch_path);

// Only files inside the document root count ("/../" cannot escape it).
if ($wpwatch_file !== false && strpos($wpwatch_file . '/', $wpwatch_root . '/') === 0) {
    if (is_dir($wpwatch_file)) {
        if (substr($wpwatch_path, -1) !== '/') {
            // Like Apache's DirectorySlash: /wp-admin -> /wp-admin/
            $wpwatch_query = parse_url($_SERVER['REQUEST_URI'], PHP_URL_QUERY);
            header('Location: ' . $wpwatch_path . '/' . ($wpwatch_query ? "?$wpwatch_query" : ''), true, 301);
            return true;
        }
        if (is_file("$wpwatch_file/index.php")) {
            return false;  // the built-in server runs the directory's index.php
        }
    } elseif (substr($wpwatch_file, -4) === '.php') {
        chdir(dirname($wpwatch_file));
        $_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = substr($wpwatch_file, strlen($wpwatch_root));
        $_SERVER['SCRIPT_FILENAME'] = $wpwatch_file;
        require $wpwatch_file;
        return true;
    } else {
        return false;  // static file: served by the built-in server
    }
}

// Everything else: a WordPress URL (pretty permalink, /wp-json/..., 404 page).
chdir($wpwatch_root);
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $wpwatch_root . '/index.php';
require $wpwatch_root . '/index.php';
return true;
