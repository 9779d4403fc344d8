import { describe, expect, it } from 'vitest';
import { translate } from './i18n';
import { dict } from './dict';

describe('i18n', () => {
  const d = { ru: { a: 'А {n}', b: 'Б' }, en: { a: 'A {n}' } };
  it('uses the chosen language', () => expect(translate(d, 'en', 'a', { n: 3 })).toBe('A 3'));
  it('falls back to Russian when a key is missing', () => expect(translate(d, 'en', 'b')).toBe('Б'));
  it('falls back to Russian for an unknown language', () => expect(translate(d, 'de', 'a', { n: 1 })).toBe('А 1'));
  it('falls back to the key itself', () => expect(translate(d, 'en', 'zzz')).toBe('zzz'));
  it('keeps unknown placeholders', () => expect(translate(d, 'ru', 'a')).toBe('А {n}'));
  it('English dictionary has no keys that Russian lacks', () => {
    const extra = Object.keys(dict.en).filter((k) => !(k in dict.ru));
    expect(extra).toEqual([]);
  });
});
