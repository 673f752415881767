<?php
/**
 * Plugin Name: wpwatch test fixtures
 * Description: Must-use plugin of the wpwatch test sites: a public custom post
 *   type `book` (REST base `books`) and a public taxonomy `topic` (REST base
 *   `topics`) on posts, pages and books. Test sites never send mail.
 */

add_action('init', function () {
    register_post_type('book', [
        'label' => 'Books',
        'labels' => ['name' => 'Books', 'singular_name' => 'Book'],
        'public' => true,
        'has_archive' => true,
        'show_in_rest' => true,
        'rest_base' => 'books',
        'supports' => ['title', 'editor', 'excerpt', 'author', 'revisions', 'custom-fields'],
        'taxonomies' => ['category', 'post_tag'],
    ]);
    register_taxonomy('topic', ['post', 'page', 'book'], [
        'label' => 'Topics',
        'labels' => ['name' => 'Topics', 'singular_name' => 'Topic'],
        'public' => true,
        'hierarchical' => false,
        'show_in_rest' => true,
        'rest_base' => 'topics',
    ]);
}, 0);

// Pluggable: mu-plugins load before wp-includes/pluggable.php, so this wins.
// wp_install() mails the new admin; notifications would be mailed too.
if (!function_exists('wp_mail')) {
    function wp_mail($to, $subject, $message, $headers = '', $attachments = array())
    {
        return true;
    }
}
