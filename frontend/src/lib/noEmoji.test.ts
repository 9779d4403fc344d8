import { describe, expect, it } from 'vitest';
import { dict } from './dict';

// Emoji render as empty boxes where no emoji font is installed; the PWA draws its icons as SVG (components/Icon.tsx).
// Full-width forms (＋) are no emoji but have no glyph in the usual fonts either: the same empty box.
const PICTOGRAPHIC = /[\p{Extended_Pictographic}\u{FF00}-\u{FFEF}]/u;

describe('no emoji in the PWA', () => {
  it('no dictionary string carries an emoji, in any language', () => {
    for (const [lang, entries] of Object.entries(dict)) {
      for (const [key, text] of Object.entries(entries)) {
        expect(PICTOGRAPHIC.test(text), `${lang}.${key}: ${text}`).toBe(false);
      }
    }
  });
  it('no component or page source carries an emoji', () => {
    const sources = import.meta.glob(['../**/*.tsx', '../**/*.ts', '!../**/*.test.ts'],
      { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
    expect(Object.keys(sources).length).toBeGreaterThan(10);
    for (const [file, text] of Object.entries(sources)) {
      const found = text.match(new RegExp(PICTOGRAPHIC.source, 'gu'));
      expect(found, file).toBeNull();
    }
  });
});
