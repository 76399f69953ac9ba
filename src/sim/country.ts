/**
 * destination_country_iso2 for an MDR, from the number's country code.
 *
 * A short table of the common calling codes, longest prefix first. A number
 * not covered gets '' (the simulator prices every country alike, so nothing
 * depends on it); +1 is reported as US although it also covers Canada and the
 * Caribbean.
 */

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
  for (const [code, iso] of BY_LENGTH) if (number.startsWith(code)) return iso;
  return '';
}
