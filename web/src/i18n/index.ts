// Message catalogues (en.ts defines the keys, fr.ts must have every one: the type checker and
// i18n.test.ts check it). French by default when the browser prefers it; the choice is kept.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en";
import fr from "./fr";

export const LANGUAGES = ["fr", "en"] as const;
export type Language = (typeof LANGUAGES)[number];
const KEY = "guetteur.language";

export function preferredLanguage(stored: string | null, browser: readonly string[]): Language {
  if (stored === "fr" || stored === "en") return stored;
  for (const tag of browser) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "fr" || base === "en") return base;
  }
  return "fr";
}

export function setLanguage(language: Language): void {
  localStorage.setItem(KEY, language);
  document.documentElement.lang = language;
  void i18n.changeLanguage(language);
}

const initial = preferredLanguage(
  typeof localStorage === "undefined" ? null : localStorage.getItem(KEY),
  typeof navigator === "undefined" ? [] : navigator.languages,
);
void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, fr: { translation: fr } },
  lng: initial,
  fallbackLng: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});
if (typeof document !== "undefined") document.documentElement.lang = initial;

/** Dates and numbers in the user's language. */
export function formatTime(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined) return "";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(i18n.language, { dateStyle: "short", timeStyle: "medium" }).format(d);
}

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined) return "";
  return new Intl.NumberFormat(i18n.language, { maximumFractionDigits: digits }).format(value);
}

export default i18n;
