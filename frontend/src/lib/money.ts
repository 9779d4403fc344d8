import { useMe } from './hooks';

/** The tenant's currency (ISO 4217, from /api/auth/me/), KZT until it is known. */
export function useCurrency(): string {
  const me = useMe();
  return me.data?.tenant?.currency || 'KZT';
}

const locale = (lang: string) => (lang === 'en' ? 'en-GB' : 'ru-RU');

/** A deal amount as the API gives it ("2500000.50", a number or null) in the tenant's currency: "2 500 000 ₸".
 * Kopecks/tiyn only when there are any; '' for no amount. A bad currency code falls back to the bare number. */
export function formatMoney(amount: string | number | null | undefined, currency: string, lang: string): string {
  if (amount === null || amount === undefined || amount === '') return '';
  const n = typeof amount === 'number' ? amount : Number(amount);
  if (!Number.isFinite(n)) return '';
  const fraction = Math.round(n * 100) % 100 !== 0 ? 2 : 0;
  try {
    return new Intl.NumberFormat(locale(lang), {
      style: 'currency', currency, currencyDisplay: 'narrowSymbol', minimumFractionDigits: fraction, maximumFractionDigits: fraction,
    }).format(n);
  } catch {
    return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 2 }).format(n);
  }
}

/** Compact form for tight places (board column heads): "2,5 млн ₸" / "$2.5m". */
export function formatMoneyShort(amount: string | number | null | undefined, currency: string, lang: string): string {
  if (amount === null || amount === undefined || amount === '') return '';
  const n = typeof amount === 'number' ? amount : Number(amount);
  if (!Number.isFinite(n)) return '';
  try {
    return new Intl.NumberFormat(locale(lang), {
      style: 'currency', currency, currencyDisplay: 'narrowSymbol', notation: 'compact', maximumFractionDigits: 1,
    }).format(n);
  } catch {
    return new Intl.NumberFormat(locale(lang), { notation: 'compact', maximumFractionDigits: 1 }).format(n);
  }
}

/** What a person typed into the amount box ("2 500 000", "1,5", "") as the API's value: a decimal string, null to
 * clear, or undefined when it is not a number. */
export function parseAmountInput(text: string): string | null | undefined {
  const s = text.replace(/[\s\u00a0\u202f₸₽$€]/g, '').replace(',', '.');
  if (!s) return null;
  if (!/^\d{1,14}(\.\d{1,2})?$/.test(s)) return undefined;
  return s;
}

export const ANALYTICS_TABLES = [
  'money_by_manager', 'money_by_source', 'money_by_channel', 'cohort_funnel', 'messages_by_channel', 'message_conversion',
  'quality_by_source', 'top_questions', 'active_conversations', 'sales_cycle',
] as const;
export type AnalyticsTableName = typeof ANALYTICS_TABLES[number];

/** The CSV download link of one analytics table for the period, headers in the UI's language. */
export function exportUrl(table: string, from: string, to: string, lang: string): string {
  const q = new URLSearchParams({ from, to, lang: lang === 'en' ? 'en' : 'ru' });
  return `/api/analytics/export/${encodeURIComponent(table)}/?${q.toString()}`;
}
