/**
 * destination_country_iso2 for an MDR: the country libphonenumber reads in the number (so +1 is told apart
 * into US, CA and the Caribbean by area code, +44 into GB, GG, JE and IM). A number that is valid in no
 * country's plan (a test range such as +44 7700 900xxx) falls back to a short table of the common calling
 * codes, longest prefix first, and else gets '' (the simulator prices every country alike, so nothing
 * depends on it). Tests read it to check that no message went to another country than the one meant.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const CODES: ReadonlyArray<readonly [string, string]> = [
  ['1', 'US'], ['7', 'RU'], ['20', 'EG'], ['27', 'ZA'], ['30', 'GR'], ['31', 'NL'], ['32', 'BE'],
  ['33', 'FR'], ['34', 'ES'], ['36', 'HU'], ['39', 'IT'], ['40', 'RO'], ['41', 'CH'], ['43', 'AT'],
  ['44', 'GB'], ['45', 'DK'], ['46', 'SE'], ['47', 'NO'], ['48', 'PL'], ['49', 'DE'], ['51', 'PE'],
  ['52', 'MX'], ['54', 'AR'], ['55', 'BR'], ['56', 'CL'], ['57', 'CO'], ['60', 'MY'], ['61', 'AU'],
  ['62', 'ID'], ['63', 'PH'], ['64', 'NZ'], ['65', 'SG'], ['66', 'TH'], ['81', 'JP'], ['82', 'KR'],
  ['84', 'VN'], ['86', 'CN'], ['90', 'TR'], ['91', 'IN'], ['92', 'PK'], ['234', 'NG'], ['254', 'KE'],
  ['351', 'PT'], ['353', 'IE'], ['358', 'FI'], ['852', 'HK'], ['880', 'BD'], ['966', 'SA'],
  ['971', 'AE'], ['972', 'IL'],
];

const BY_LENGTH = [...CODES].sort((a, b) => b[0].length - a[0].length);

export function countryIso2(number: string): string {
  const country = parsePhoneNumberFromString(`+${number.replace(/\D/g, '')}`)?.country;
  if (country !== undefined) return country;
  for (const [code, iso] of BY_LENGTH) if (number.startsWith(code)) return iso;
  return '';
}
