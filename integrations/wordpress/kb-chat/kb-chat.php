<?php
/**
 * Plugin Name:       KB Chat
 * Description:       Puts the knowledge-base chat widget of a kb-engine server on every page: the one script tag, set up from Settings → KB Chat.
 * Version:           0.1.0
 * Requires at least: 6.3
 * Requires PHP:      7.4
 * License:           Apache-2.0
 * Text Domain:       kb-chat
 *
 * The plugin stores four things (the engine's address, the publishable key, and two optional
 * overrides) and prints one <script> tag. Everything else (title, colours, welcome message,
 * suggested questions, lead form) is set per knowledge base on the engine and fetched by the
 * widget, so it is changed without touching WordPress.
 */

if (!defined('ABSPATH')) {
    exit; // Loaded outside WordPress.
}

const KB_CHAT_OPTION = 'kb_chat_settings';
const KB_CHAT_POSITIONS = array('', 'left', 'right');
const KB_CHAT_LANGUAGES = array('', 'en', 'fr');

/** The stored settings, with every key present. */
function kb_chat_settings() {
    $defaults = array('host' => '', 'key' => '', 'position' => '', 'lang' => '');
    $stored = get_option(KB_CHAT_OPTION, array());
    return array_merge($defaults, is_array($stored) ? $stored : array());
}

/**
 * Cleans what the settings form sent: an http(s) origin without path, query or credentials,
 * a publishable key (kb_pub_ + url-safe characters), and the two choices from their lists.
 * Anything else is dropped rather than stored, so the tag never carries markup or a secret key.
 */
function kb_chat_sanitize($input) {
    $input = is_array($input) ? $input : array();
    $clean = array('host' => '', 'key' => '', 'position' => '', 'lang' => '');

    $host = isset($input['host']) ? trim((string) $input['host']) : '';
    $parts = $host === '' ? false : wp_parse_url($host);
    if (
        $parts && isset($parts['scheme'], $parts['host'])
        && in_array(strtolower($parts['scheme']), array('http', 'https'), true)
        && !isset($parts['user']) && !isset($parts['pass']) && !isset($parts['query'])
        && (!isset($parts['path']) || $parts['path'] === '/' || $parts['path'] === '')
    ) {
        $clean['host'] = strtolower($parts['scheme']) . '://' . strtolower($parts['host'])
            . (isset($parts['port']) ? ':' . (int) $parts['port'] : '');
    } elseif ($host !== '') {
        add_settings_error(KB_CHAT_OPTION, 'kb_chat_host', __('The engine address must be an http(s) address such as https://kb.example.com.', 'kb-chat'));
    }

    $key = isset($input['key']) ? trim((string) $input['key']) : '';
    if (preg_match('/^kb_pub_[A-Za-z0-9_-]{8,128}$/', $key)) {
        $clean['key'] = $key;
    } elseif ($key !== '') {
        // A secret key in a public page would hand it to every visitor: refuse it.
        add_settings_error(KB_CHAT_OPTION, 'kb_chat_key', __('Use a publishable key (it starts with kb_pub_), never a secret key.', 'kb-chat'));
    }

    foreach (array('position' => KB_CHAT_POSITIONS, 'lang' => KB_CHAT_LANGUAGES) as $field => $allowed) {
        $value = isset($input[$field]) ? (string) $input[$field] : '';
        $clean[$field] = in_array($value, $allowed, true) ? $value : '';
    }
    return $clean;
}

/** The one script tag for the stored settings, or '' while the host or key is missing. */
function kb_chat_tag($settings) {
    if ($settings['host'] === '' || $settings['key'] === '') {
        return '';
    }
    $attributes = array(
        'src' => $settings['host'] . '/widget.js',
        'data-key' => $settings['key'],
        'data-host' => $settings['host'],
    );
    if ($settings['position'] !== '') {
        $attributes['data-position'] = $settings['position'];
    }
    if ($settings['lang'] !== '') {
        $attributes['data-lang'] = $settings['lang'];
    }
    $html = '<script';
    foreach ($attributes as $name => $value) {
        $escaped = $name === 'src' ? esc_url($value) : esc_attr($value);
        $html .= ' ' . $name . '="' . $escaped . '"';
    }
    return $html . ' async></script>' . "\n";
}

/** Prints the tag in the footer of public pages (not in the admin). */
function kb_chat_print_tag() {
    if (is_admin()) {
        return;
    }
    echo kb_chat_tag(kb_chat_settings()); // Built from escaped parts above.
}
add_action('wp_footer', 'kb_chat_print_tag');

/** Registers the option and its sanitiser. */
function kb_chat_register_settings() {
    register_setting('kb_chat', KB_CHAT_OPTION, array('sanitize_callback' => 'kb_chat_sanitize'));
}
add_action('admin_init', 'kb_chat_register_settings');

/** Adds Settings → KB Chat for administrators. */
function kb_chat_add_menu() {
    add_options_page(__('KB Chat', 'kb-chat'), __('KB Chat', 'kb-chat'), 'manage_options', 'kb-chat', 'kb_chat_render_page');
}
add_action('admin_menu', 'kb_chat_add_menu');

/** The settings page. */
function kb_chat_render_page() {
    if (!current_user_can('manage_options')) {
        return;
    }
    $settings = kb_chat_settings();
    $name = KB_CHAT_OPTION;
    ?>
    <div class="wrap">
        <h1><?php echo esc_html__('KB Chat', 'kb-chat'); ?></h1>
        <p><?php echo esc_html__('Create a publishable key for your knowledge base on the engine (console → Keys, with this site\'s address as an allowed origin), then paste it here.', 'kb-chat'); ?></p>
        <?php settings_errors(KB_CHAT_OPTION); ?>
        <form method="post" action="options.php">
            <?php settings_fields('kb_chat'); ?>
            <table class="form-table" role="presentation">
                <tr>
                    <th scope="row"><label for="kb-chat-host"><?php echo esc_html__('Engine address', 'kb-chat'); ?></label></th>
                    <td><input type="url" id="kb-chat-host" class="regular-text" name="<?php echo esc_attr($name); ?>[host]" value="<?php echo esc_attr($settings['host']); ?>" placeholder="https://kb.example.com" required></td>
                </tr>
                <tr>
                    <th scope="row"><label for="kb-chat-key"><?php echo esc_html__('Publishable key', 'kb-chat'); ?></label></th>
                    <td><input type="text" id="kb-chat-key" class="regular-text" name="<?php echo esc_attr($name); ?>[key]" value="<?php echo esc_attr($settings['key']); ?>" placeholder="kb_pub_..." autocomplete="off" required></td>
                </tr>
                <tr>
                    <th scope="row"><label for="kb-chat-position"><?php echo esc_html__('Position', 'kb-chat'); ?></label></th>
                    <td><select id="kb-chat-position" name="<?php echo esc_attr($name); ?>[position]">
                        <?php foreach (array('' => __('As set on the engine', 'kb-chat'), 'right' => __('Right', 'kb-chat'), 'left' => __('Left', 'kb-chat')) as $value => $label) : ?>
                            <option value="<?php echo esc_attr($value); ?>" <?php selected($settings['position'], $value); ?>><?php echo esc_html($label); ?></option>
                        <?php endforeach; ?>
                    </select></td>
                </tr>
                <tr>
                    <th scope="row"><label for="kb-chat-lang"><?php echo esc_html__('Language', 'kb-chat'); ?></label></th>
                    <td><select id="kb-chat-lang" name="<?php echo esc_attr($name); ?>[lang]">
                        <?php foreach (array('' => __('The page\'s language', 'kb-chat'), 'fr' => 'Français', 'en' => 'English') as $value => $label) : ?>
                            <option value="<?php echo esc_attr($value); ?>" <?php selected($settings['lang'], $value); ?>><?php echo esc_html($label); ?></option>
                        <?php endforeach; ?>
                    </select></td>
                </tr>
            </table>
            <?php submit_button(); ?>
        </form>
    </div>
    <?php
}
