import { describe, expect, it } from 'vitest';
import { money, toBody, toDraft } from './knowledge';

describe('knowledge form', () => {
  it('sends keywords as a list and prices as numbers or null', () => {
    const draft = toDraft('prices');
    expect(draft.values.currency).toBe('KZT');
    draft.values = { ...draft.values, item: ' Дом ', price_from: '160 000', price_to: '', keywords: 'цена, , м2 ' };
    expect(toBody('prices', draft)).toEqual({ item: 'Дом', unit: '', currency: 'KZT', price_from: 160000, price_to: null, note: '', keywords: ['цена', 'м2'] });
  });
  it('sends what is not a number as typed, for the server to refuse by name', () => {
    const draft = toDraft('prices');
    draft.values = { ...draft.values, item: 'Дом', price_from: 'сто' };
    expect(toBody('prices', draft).price_from).toBe('сто');
  });
  it('leaves an empty currency to the server default', () => {
    const draft = toDraft('prices', { id: 1, item: 'Дом', currency: '' });
    expect('currency' in toBody('prices', draft)).toBe(false);
  });
  it('fills the form from an entry', () => {
    const draft = toDraft('qa', { id: 7, question: 'Окна?', answer: 'ПВХ', answer_en: '', keywords: ['окна', 'window'] });
    expect(draft).toEqual({ id: 7, values: { question: 'Окна?', answer: 'ПВХ', answer_en: '', keywords: 'окна, window' } });
  });
  it('formats money with spaces', () => {
    expect(money(160000).replace(/\s/g, ' ')).toBe('160 000');
    expect(money(null)).toBe('');
  });
});
