import { describe, expect, it } from 'vitest';
import { exportUrl, formatMoney, formatMoneyShort, parseAmountInput } from './money';

const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');

describe('formatMoney', () => {
  it('formats in the tenant currency without empty kopecks', () => {
    expect(plain(formatMoney('2500000.00', 'KZT', 'ru'))).toBe('2 500 000 ₸');
    expect(plain(formatMoney('2500000.50', 'RUB', 'ru'))).toBe('2 500 000,50 ₽');
    expect(formatMoney(1500, 'USD', 'en')).toBe('$1,500');
  });
  it('says nothing for no amount or garbage', () => {
    expect(formatMoney(null, 'KZT', 'ru')).toBe('');
    expect(formatMoney('', 'KZT', 'ru')).toBe('');
    expect(formatMoney('abc', 'KZT', 'ru')).toBe('');
  });
  it('survives a bad currency code', () => {
    expect(plain(formatMoney('1000', 'XX', 'ru'))).toBe('1 000');
  });
  it('has a compact form', () => {
    expect(plain(formatMoneyShort('2500000', 'KZT', 'ru'))).toContain('2,5');
    expect(formatMoneyShort('2500000', 'USD', 'en')).toBe('$2.5m');
  });
});

describe('parseAmountInput', () => {
  it('reads what people type', () => {
    expect(parseAmountInput('2 500 000')).toBe('2500000');
    expect(parseAmountInput('1,5')).toBe('1.5');
    expect(parseAmountInput('300000 ₸')).toBe('300000');
    expect(parseAmountInput('')).toBeNull();
    expect(parseAmountInput('два')).toBeUndefined();
    expect(parseAmountInput('-5')).toBeUndefined();
    expect(parseAmountInput('1.234')).toBeUndefined();
  });
});

describe('exportUrl', () => {
  it('names the table, the period and the language', () => {
    expect(exportUrl('sales_cycle', '2025-03-01', '2025-03-31', 'en'))
      .toBe('/api/analytics/export/sales_cycle/?from=2025-03-01&to=2025-03-31&lang=en');
  });
});

describe('the timeline names the amount', () => {
  it('in both languages', async () => {
    const { describeEvent } = await import('./timeline');
    const e = { id: 1, kind: 'field_changed', actor: 'ai' as const, field: 'amount', before: null, after: '2000000.00', text: '', created_at: '2026-11-30T10:00:00Z' };
    expect(describeEvent(e, 'ru', {})).toContain('Сумма сделки');
    expect(describeEvent(e, 'en', {})).toContain('Deal amount');
  });
});
