import { sanitizeLine, sanitizeMultiline } from './sanitize';

describe('sanitizeLine', () => {
  it.each([
    ['<script>alert(1)</script>Bob', 'Bob'],
    ['Bob<script src="https://evil.example/x.js"></script>', 'Bob'],
    ['<SCRIPT>alert(1)</SCRIPT >Bob', 'Bob'],
    ['<img src=x onerror=alert(1)>Alice', 'Alice'],
    ['Alice<img src=x onerror=alert(1)', 'Alice'],
    ['<svg/onload=alert(1)>Eve', 'Eve'],
    ['<a href="javascript:alert(1)">Mallory</a>', 'Mallory'],
    ['<style>body{display:none}</style>Trent', 'Trent'],
    ['<iframe srcdoc="<script>alert(1)</script>"></iframe>Peggy', 'Peggy'],
    ['<!-- a comment -->Victor<!--', 'Victor'],
    ['<![CDATA[x]]>Walter', 'Walter'],
    ['javascript:alert(1)', 'alert(1)'],
    ['JaVaScRiPt:alert(1)', 'alert(1)'],
    ['java\tscript:alert(1)', 'alert(1)'],
    ['java\u0000script:alert(1)', 'alert(1)'],
    ['vbscript:msgbox(1)', 'msgbox(1)'],
    ['x" onmouseover="alert(1)', 'x" "alert(1)'],
    // Entity-encoded markup is judged as what it decodes to.
    ['&lt;script&gt;alert(1)&lt;/script&gt;Bob', 'Bob'],
    ['&#60;img src=x onerror=alert(1)&#62;Bob', 'Bob'],
    ['&#x6A;avascript:alert(1)', 'alert(1)'],
    ['&amp;lt;b&amp;gt;Bob', 'Bob'],
    // Removal cannot assemble new markup: what it puts together is removed in the next pass.
    ['<scr<script>x</script>ipt>alert(1)</script>Bob', 'alert(1)Bob'],
    ['<<script>script>alert(1)<</script>/script>Bob', 'Bob'],
    ['javajavascript:script:alert(1)', 'alert(1)'],
  ])('removes markup and script URLs: %j', (input, expected) => {
    const cleaned = sanitizeLine(input);
    expect(cleaned).toBe(expected);
    expect(cleaned).not.toMatch(/<[a-z/!?]|javascript:|on[a-z]+=/i);
  });

  it('strips control characters, bidi overrides and the BOM, keeping joiners inside emoji', () => {
    expect(sanitizeLine('Al\u0000i\u0007c\u001Be\u007F\u0085')).toBe('Alice');
    expect(sanitizeLine('\uFEFFBob\u202Egnp.exe\u202C')).toBe('Bobgnp.exe');
    expect(sanitizeLine('Family \u{1F468}\u200D\u{1F469}\u200D\u{1F467}')).toBe(
      'Family \u{1F468}\u200D\u{1F469}\u200D\u{1F467}',
    );
  });

  it('normalises to NFC and drops lone surrogates', () => {
    const decomposed = 'Jose\u0301';
    expect(sanitizeLine(decomposed)).toBe('Jos\u00E9');
    expect(sanitizeLine(decomposed).normalize('NFC')).toBe(sanitizeLine(decomposed));
    expect(sanitizeLine('A\uD800B\uDC00C')).toBe('ABC');
  });

  it('collapses every run of whitespace (line breaks too) into one space and trims', () => {
    expect(sanitizeLine('  Ada \t\n  Lovelace\u00A0\u2028 ')).toBe('Ada Lovelace');
  });

  it('leaves ordinary text alone, including characters that only resemble markup', () => {
    for (const text of [
      'Zoë Ørsted-Ångström',
      '李小龙',
      'I <3 TypeScript',
      'a < b and c > d',
      'Tom & Jerry',
      'R&D: 100% online',
      'O\'Brien "The Tank"',
      'Once upon a time',
      'data: 42',
    ]) {
      expect({ text, cleaned: sanitizeLine(text) }).toEqual({ text, cleaned: text });
    }
  });
});

describe('sanitizeMultiline', () => {
  it('keeps line breaks, at most one empty line between paragraphs, each line trimmed', () => {
    expect(sanitizeMultiline('  First line  \r\n\tsecond   line\n\n\n\n\nThird\u0000 paragraph  \n')).toBe(
      'First line\nsecond line\n\nThird paragraph',
    );
  });

  it('removes markup like the one-line form', () => {
    expect(sanitizeMultiline('Hi!\n<script>\nfetch("/steal")\n</script>\n<b onclick="x()">bold</b>')).toBe(
      'Hi!\n\nbold',
    );
  });
});
