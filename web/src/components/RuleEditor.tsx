import { yaml } from "@codemirror/lang-yaml";
import { type Diagnostic, linter, lintGutter } from "@codemirror/lint";
import { EditorView } from "@codemirror/view";
import { useComputedColorScheme } from "@mantine/core";
import CodeMirror from "@uiw/react-codemirror";
import { useMemo, useRef } from "react";
import { type Finding, findingRanges } from "../lib/ruleFindings";

interface Props {
  value: string;
  onChange: (text: string) => void;
  /** Checks a text (the API's validation); its findings are marked on their lines. */
  validate: (text: string) => Promise<Finding[]>;
  /** Called with the findings of the text last checked. */
  onFindings: (findings: Finding[]) => void;
  label: string;
  readOnly?: boolean;
}

/** Sigma YAML in CodeMirror 6, validated as one types (debounced by the linter, 500 ms): each
 * error and warning is underlined on its line and marked in the gutter. */
export function RuleEditor({ value, onChange, validate, onFindings, label, readOnly = false }: Props) {
  const scheme = useComputedColorScheme("light");
  // the linter is built once; it calls the latest callbacks through refs
  const validateRef = useRef(validate);
  validateRef.current = validate;
  const findingsRef = useRef(onFindings);
  findingsRef.current = onFindings;
  const extensions = useMemo(() => [
    yaml(),
    lintGutter(),
    linter(async (view): Promise<Diagnostic[]> => {
      const text = view.state.doc.toString();
      let findings: Finding[];
      try {
        findings = await validateRef.current(text);
      } catch {
        return [];  // the server did not answer: keep typing, nothing marked
      }
      if (view.state.doc.toString() !== text) return [];  // changed meanwhile: the next run marks it
      findingsRef.current(findings);
      return findingRanges(text, findings);
    }, { delay: 500 }),
    EditorView.contentAttributes.of({ "aria-label": label, "data-testid": "rule-editor" }),
    EditorView.lineWrapping,
  ], [label]);
  return (
    <CodeMirror value={value} onChange={onChange} extensions={extensions} theme={scheme === "dark" ? "dark" : "light"}
      readOnly={readOnly} minHeight="360px" maxHeight="70vh" basicSetup={{ foldGutter: false, autocompletion: false }} />
  );
}
