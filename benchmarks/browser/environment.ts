// Where the bench page runs, as far as a browser tells: its name and version, the OS, the number of logical
// cores (a browser never names the CPU model) and navigator.deviceMemory (GiB, rounded by the browser).

export interface BrowserEnvironment {
  runtime: string;
  os: string;
  cpu: string;
  memory_bytes: number | null;
}

/** User-Agent Client Hints (Chromium-based browsers): the brands with full versions, and the platform. */
interface UserAgentData {
  platform: string;
  getHighEntropyValues(hints: string[]): Promise<{ fullVersionList?: { brand: string; version: string }[]; platformVersion?: string; architecture?: string; bitness?: string }>;
}

type BrowserNavigator = Navigator & { userAgentData?: UserAgentData; deviceMemory?: number };

// Client Hints list made-up brands ("Not:A-Brand") so that sites cannot match the list exactly.
const GREASE_BRAND = /not.?a.?brand/i;

export async function browserEnvironment(nav: BrowserNavigator = navigator): Promise<BrowserEnvironment> {
  const hints = await nav.userAgentData?.getHighEntropyValues(['fullVersionList', 'platformVersion', 'architecture', 'bitness']).catch(() => undefined);
  const brands = (hints?.fullVersionList ?? []).filter((b) => !GREASE_BRAND.test(b.brand));
  // Chrome, Edge and Opera also list "Chromium": name the browser itself where it is there.
  const brand = brands.find((b) => b.brand !== 'Chromium') ?? brands[0];
  const platform = nav.userAgentData?.platform;
  const architecture = hints?.architecture ? `${hints.architecture}${hints.bitness ? `-${hints.bitness}` : ''}` : '';
  return {
    runtime: brand ? `${brand.brand.replace(/^Google /, '')} ${brand.version}` : browserFromUserAgent(nav.userAgent),
    os: platform ? [platform, hints?.platformVersion, architecture].filter(Boolean).join(' ') : nav.platform || 'unknown',
    cpu: `${nav.hardwareConcurrency} logical cores (a browser does not tell the CPU model)`,
    memory_bytes: nav.deviceMemory ? nav.deviceMemory * 2 ** 30 : null,
  };
}

/** "Firefox 133.0" from a user agent string (browsers without Client Hints); the order matters: Edge's also says Chrome. */
export function browserFromUserAgent(userAgent: string): string {
  const patterns: [string, RegExp][] = [
    ['Edge', /Edg\/([\d.]+)/],
    ['Opera', /OPR\/([\d.]+)/],
    ['Firefox', /Firefox\/([\d.]+)/],
    ['Chrome', /Chrome\/([\d.]+)/],
    ['Safari', /Version\/([\d.]+).*Safari/],
  ];
  for (const [name, pattern] of patterns) {
    const m = pattern.exec(userAgent);
    if (m) return `${name} ${m[1]}`;
  }
  return `unknown browser (${userAgent})`;
}
