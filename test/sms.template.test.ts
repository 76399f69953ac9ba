import { describe, expect, it } from 'vitest';
import { compileTemplate, TemplateSyntaxError } from '../src/sms/template.js';

describe('compileTemplate', () => {
  it('lists referenced columns once, in order of first use', () => {
    expect(compileTemplate('{{b}} {{ a }} {{b|x}}').columns).toEqual(['b', 'a']);
    expect(compileTemplate('no placeholders').columns).toEqual([]);
  });

  it('keeps the source', () => {
    expect(compileTemplate('Hi {{name}}').source).toBe('Hi {{name}}');
  });

  it('reports an unclosed {{ with its line and column', () => {
    const err = catchError(() => compileTemplate('Hello\nyou {{first_name, bye'));
    expect(err).toBeInstanceOf(TemplateSyntaxError);
    expect(err).toMatchObject({ position: 10, line: 2, column: 5 });
    expect((err as Error).message).toBe("template: unclosed '{{' at line 2, column 5: close it with '}}', e.g. {{first_name}}");
  });

  it('reports a {{ that is followed by another {{ before its }}', () => {
    expect(catchError(() => compileTemplate('{{a {{b}}'))).toMatchObject({ position: 0, line: 1, column: 1 });
  });

  it.each(['Hi {{}}', 'Hi {{  }}', 'Hi {{|there}}'])('refuses an empty placeholder in %j', (source) => {
    const err = catchError(() => compileTemplate(source));
    expect(err).toBeInstanceOf(TemplateSyntaxError);
    expect((err as Error).message).toMatch(/at line 1, column 4: put a CSV column name inside, e\.g\. \{\{first_name\}\}$/);
  });
});

describe('Template.render', () => {
  const template = compileTemplate('Hi {{ first_name | there }}, code {{code}}. {x} }}');

  it('inserts values verbatim and copies the rest', () => {
    expect(template.render({ first_name: 'Ann', code: '42' })).toEqual({ ok: true, text: 'Hi Ann, code 42. {x} }}' });
  });

  it('uses the fallback for an empty or blank value', () => {
    expect(template.render({ first_name: '  ', code: '42' })).toEqual({ ok: true, text: 'Hi there, code 42. {x} }}' });
  });

  it('refuses a row whose column is empty and has no fallback', () => {
    expect(compileTemplate('Hi {{first_name}}').render({ first_name: '' })).toEqual({
      ok: false,
      reason: "column 'first_name' is empty (add a value, or a fallback: {{first_name|there}})",
    });
  });

  it('refuses a row that lacks the column', () => {
    expect(template.render({ first_name: 'Ann' })).toEqual({
      ok: false,
      reason: "column 'code' is missing from this row (add a value, or a fallback: {{code|there}})",
    });
  });

  it('allows an explicitly empty fallback', () => {
    expect(compileTemplate('A{{middle|}}B').render({ middle: '' })).toEqual({ ok: true, text: 'AB' });
  });

  it('does not read inherited properties as columns', () => {
    expect(compileTemplate('{{constructor}}').render({}).ok).toBe(false);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
