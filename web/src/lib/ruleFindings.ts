// Rule editor logic kept out of the components (tested by ruleFindings.test.ts): the API's
// findings (1-based line and column) as editor ranges, and the text of a new rule.

export interface Finding {
  message: string;
  severity: "error" | "warning";
  line?: number | null;
  column?: number | null;
}

export interface Range {
  from: number;
  to: number;
  severity: "error" | "warning";
  message: string;
}

/** Character offset where each line of `text` starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

/** Each finding as a range of `text`: from its column (or the line's first non-blank
 * character) to the end of its line; a finding without a line marks the first line. Lines
 * past the end (the text changed meanwhile) are clamped to the last one. */
export function findingRanges(text: string, findings: Finding[]): Range[] {
  const starts = lineStarts(text);
  return findings.map((f) => {
    const index = Math.min(Math.max((f.line ?? 1) - 1, 0), starts.length - 1);
    const lineStart = starts[index];
    const lineEnd = index + 1 < starts.length ? starts[index + 1] - 1 : text.length;
    const lineText = text.slice(lineStart, lineEnd);
    const firstChar = lineText.length - lineText.trimStart().length;
    const column = f.column != null ? Math.min(Math.max(f.column - 1, 0), lineText.length) : firstChar;
    const from = lineStart + column;
    const to = Math.max(lineEnd, from);
    return { from, to: to === from ? Math.min(from + 1, text.length) : to, severity: f.severity, message: f.message };
  });
}

/** The YAML of a new rule: a fresh UUID and every field a rule of ours carries. */
export function newRuleText(uuid: string, date: Date = new Date()): string {
  const day = date.toISOString().slice(0, 10);
  return `title: New rule
id: ${uuid}
status: experimental
description: What the rule detects, and what to check when it fires.
author: ""
date: ${day}
tags:
  - attack.credential-access
  - attack.t1110
logsource:
  product: linux
  service: sshd
detection:
  selection:
    event.action: ssh_login
    event.outcome: failure
  condition: selection
falsepositives:
  - Users mistyping their password
level: medium
`;
}

/** The id a text's first `id:` line gives (the rule the editor saves), or null. */
export function textRuleId(text: string): string | null {
  const match = /^id:\s*['"]?([A-Za-z0-9][A-Za-z0-9._-]{0,127})['"]?\s*$/m.exec(text);
  return match ? match[1] : null;
}
