<?php
// The few WordPress functions the plugin calls, as WordPress defines them (escaping included),
// so php-cli can run the plugin's sanitiser and tag builder without a WordPress install.
define('ABSPATH', __DIR__);
$GLOBALS['kb_errors'] = array();
$GLOBALS['kb_options'] = array();
function add_action($hook, $callback) {}
function get_option($name, $default = false) { return $GLOBALS['kb_options'][$name] ?? $default; }
function __($text, $domain = null) { return $text; }
function esc_html__($text, $domain = null) { return htmlspecialchars($text, ENT_QUOTES); }
function esc_attr($text) { return htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8'); }
function esc_url($url) {
    // WordPress drops characters outside a URL's set and refuses other schemes.
    $url = preg_replace('|[^a-z0-9-~+_.?#=!&;,/:%@$\|*\'()\[\]\\x80-\\xff]|i', '', (string) $url);
    if (!preg_match('#^https?://#i', $url)) { return ''; }
    return htmlspecialchars($url, ENT_QUOTES, 'UTF-8');
}
function wp_parse_url($url) { return parse_url($url); }
function add_settings_error($setting, $code, $message) { $GLOBALS['kb_errors'][] = $code; }
function is_admin() { return false; }
