import { describe, expect, it } from 'vitest';
import { ICON_NAMES } from '../components/Icon';
import { eventValue, formatDuration, formatPercent, formatSeconds, formatWaiting, statusIcon, temperatureIcon, meLabel } from './format';

describe('temperatureIcon', () => {
  it('maps temperatures to SVG icon names', () => {
    expect(temperatureIcon('hot')).toBe('hot');
    expect(temperatureIcon('warm')).toBe('warm');
    expect(temperatureIcon('cold')).toBe('cold');
    expect(temperatureIcon(undefined)).toBeNull();
    expect(temperatureIcon('lukewarm')).toBeNull();
  });
  it('every name it gives exists in the icon set', () => {
    for (const n of [temperatureIcon('hot'), temperatureIcon('warm'), temperatureIcon('cold'),
      statusIcon('queued'), statusIcon('sent'), statusIcon('read'), statusIcon('failed')]) {
      expect(ICON_NAMES).toContain(n);
    }
  });
});

describe('no-answer timer', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const ago = (min: number) => new Date(now - min * 60000).toISOString();
  it('formats in Russian', () => {
    expect(formatWaiting(ago(0.5), now, 'ru')).toBe('<1 мин');
    expect(formatWaiting(ago(5), now, 'ru')).toBe('5 мин');
    expect(formatWaiting(ago(80), now, 'ru')).toBe('1 ч 20 мин');
    expect(formatWaiting(ago(120), now, 'ru')).toBe('2 ч');
    expect(formatWaiting(ago(60 * 51), now, 'ru')).toBe('2 д 3 ч');
    expect(formatWaiting(ago(60 * 48), now, 'ru')).toBe('2 д');
  });
  it('formats in English', () => {
    expect(formatWaiting(ago(5), now, 'en')).toBe('5 min');
    expect(formatWaiting(ago(80), now, 'en')).toBe('1 h 20 min');
    expect(formatWaiting(ago(60 * 51), now, 'en')).toBe('2 d 3 h');
  });
  it('handles missing, bad and future timestamps', () => {
    expect(formatWaiting(null, now, 'ru')).toBeNull();
    expect(formatWaiting('garbage', now, 'ru')).toBeNull();
    expect(formatDuration(-5000, 'ru')).toBe('<1 мин');
  });
  it('unknown language falls back to Russian', () => {
    expect(formatWaiting(ago(5), now, 'kk')).toBe('5 мин');
  });
});

describe('other formatting', () => {
  it('seconds and percents', () => {
    expect(formatSeconds(42, 'ru')).toBe('42 с');
    expect(formatSeconds(180, 'en')).toBe('3 min');
    expect(formatSeconds(null, 'en')).toBe('—');
    expect(formatPercent(0.256)).toBe('25.6%');
    expect(formatPercent(40)).toBe('40%');
  });
  it('status ticks', () => {
    expect(statusIcon('queued')).toBe('clock');
    expect(statusIcon('sent')).toBe('check');
    expect(statusIcon('delivered')).toBe('checks');
    expect(statusIcon('read')).toBe('checks');
    expect(statusIcon('failed')).toBe('alert');
    expect(statusIcon('received')).toBeNull();
  });
});

describe('meLabel', () => {
  it('shows the name and the role, the e-mail when there is no name, and never the role twice', () => {
    expect(meLabel({ full_name: 'Айгуль', email: 'a@b.kz' }, 'Владелец')).toBe('Айгуль · Владелец');
    expect(meLabel({ full_name: '', email: 'owner@b.kz' }, 'Владелец')).toBe('owner@b.kz · Владелец');
    expect(meLabel({ full_name: 'Владелец', email: 'owner@b.kz' }, 'Владелец')).toBe('owner@b.kz · Владелец');
    expect(meLabel({ full_name: 'Владелец', email: 'owner@b.kz' }, 'Owner')).toBe('owner@b.kz · Owner');
    expect(meLabel({ full_name: null, email: 'm@b.kz' }, 'Manager')).toBe('m@b.kz · Manager');
  });
});

describe('eventValue', () => {
  it('shows timeline values as people read them', () => {
    expect(eventValue({ id: 2, kind: 'in_dialog', name: 'В диалоге' })).toBe('В диалоге');
    expect(eventValue({ score: 37, temperature: 'warm' })).toBe('37 Тёплый');
    expect(eventValue({ score: 37, temperature: 'warm' }, 'en')).toBe('37 Warm');
    expect(eventValue({ id: 3, email: 'a@b.kz', full_name: '' })).toBe('a@b.kz');
    expect(eventValue({ length: 10, width: 12, height: null })).toBe('10×12×—');
    expect(eventValue(null)).toBe('—');
    expect(eventValue('')).toBe('—');
    expect(eventValue(true)).toBe('✓');
    expect(eventValue(['a', 'b'])).toBe('a, b');
    expect(eventValue(42)).toBe('42');
    expect(eventValue({ x: 1 })).toBe('{"x":1}');
  });
});
