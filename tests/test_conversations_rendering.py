from conversations.rendering import render_markdown


def test_raw_html_is_escaped_not_rendered():
    html = render_markdown('<script>alert(1)</script><img src=x onerror="alert(1)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_javascript_links_never_become_links():
    for source in ["[click](javascript:alert(1))", "<javascript:alert(1)>", "[x](JAVASCRIPT:alert(1))"]:
        html = render_markdown(source)
        assert "<a" not in html, html


def test_links_get_safe_rel():
    html = render_markdown("[site](https://example.com)")
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_remote_images_become_links_and_are_never_loaded():
    html = render_markdown("![a cat](https://evil.example/track.png)")
    assert "<img" not in html
    assert '<a href="https://evil.example/track.png"' in html
    assert "a cat" in html


def test_code_is_highlighted_with_classes_only():
    html = render_markdown("```python\ndef f():\n    return 1\n```")
    assert '<pre><code class="language-python">' in html
    assert '<span class="k">def</span>' in html
    assert "style=" not in html


def test_unknown_language_is_escaped_plain_code():
    html = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_single_newlines_are_line_breaks_and_tables_render():
    assert "<br>" in render_markdown("line one\nline two")
    assert "<table>" in render_markdown("| a | b |\n|---|---|\n| 1 | 2 |")
