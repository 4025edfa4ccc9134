// Generates hf_ids.json: the ids Hugging Face tokenizers give for a set of texts, for the three real tokenizer.json
// files in shared/data/hf-tokenizers. Reference implementation: transformers.js (@huggingface/transformers), a port
// of HF `tokenizers` tested against it. Rerun (see README.md beside this file):
//   mkdir -p /tmp/hfref && cd /tmp/hfref && npm init -y && npm install @huggingface/transformers
//   NODE_PATH=/tmp/hfref/node_modules node make_hf_ids.mjs /path/to/shared/data/hf-tokenizers > hf_ids.json
import { createRequire } from 'module';
const require = createRequire(process.env.NODE_PATH + '/');
const { AutoTokenizer, env } = await import(require.resolve('@huggingface/transformers'));

const root = process.argv[2];
env.allowRemoteModels = false;
env.localModelPath = root.endsWith('/') ? root : root + '/';

const texts = [
  'Hello world',
  ' Hello world',
  'Hello  world   again',
  "I'm sure you don't know what they've said, I'll say we'd",
  "IT'S MY DOG'S BONE, HE'LL EAT IT",
  '12345 3.14 1000000 2024-06-01 0.5e-3',
  'Line one\nLine two\n\nLine four\r\nWindows line\n\n\n',
  'tabs\there\t\tand  spaces    end   ',
  '   leading spaces',
  '\n\nleading newlines',
  'def f(x):\n    return x**2  # square\n\nif __name__ == "__main__":\n\tprint(f(3))\n',
  'for (int i = 0; i < n; i++) { sum += a[i]; }',
  '你好，世界！这是一个测试。',
  '日本語のテキストとカタカナ',
  '한국어 문장입니다',
  'Emoji: 😀🎉👍🏽 family 👨‍👩‍👧 flag 🇫🇷',
  'Café naïve résumé façade Ångström Zürich',
  'e\u0301 decomposed cafe\u0301',
  'Ελληνικά και русский текст',
  'مرحبا بالعالم',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>',
  '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\nreasoning\n</think>\n\nAnswer<|im_end|>',
  '<tool_call>{"name": "f"}</tool_call>',
  '<s>[INST] question [/INST] answer</s>',
  'Text with <|eot_id|> inside and <think> tags',
  'a',
  ' ',
  '  ',
  '\n',
  "!!!!!! ??? ... ---- ==== ''' \"\"\"",
  'https://example.com/path?query=1&b=2#frag',
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!',
  'MixedCASE camelCase snake_case kebab-case',
  'Math: ∑ ∫ √ ≤ ≥ ≠ ∞ 𝕏 𝟘𝟙 𠀀',
  'zero\u200bwidth and non\u00a0breaking space',
  'ſ long s and Kelvin K',
  '   ',
  'x\n \n y',
];

const fs = await import('fs');
const version = JSON.parse(fs.readFileSync(process.env.NODE_PATH + '/@huggingface/transformers/package.json', 'utf8')).version;
// Variants of the Mistral file that exercise the Metaspace and Digits pre-tokenizers (the newer Llama/Mistral
// tokenizer.json layout): the normalizer is dropped and replaced by these pre-tokenizers. The C# test builds the same
// variants from the same file (HfTokenizerAssets.Variant).
const os = await import('os');
const path = await import('path');
const variants = {
  mistral_metaspace: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
  mistral_digits_metaspace: { type: 'Sequence', pretokenizers: [
    { type: 'Digits', individual_digits: true },
    { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: false }] },
};
const fsv = await import('fs');
const tmp = fsv.mkdtempSync(path.join(os.tmpdir(), 'hfvariants-'));
for (const [name, pre] of Object.entries(variants)) {
  const json = JSON.parse(fsv.readFileSync(path.join(root, 'mistral', 'tokenizer.json'), 'utf8'));
  json.normalizer = null;
  json.pre_tokenizer = pre;
  json.decoder = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true };
  fsv.mkdirSync(path.join(tmp, name));
  fsv.writeFileSync(path.join(tmp, name, 'tokenizer.json'), JSON.stringify(json));
  fsv.copyFileSync(path.join(root, 'mistral', 'tokenizer_config.json'), path.join(tmp, name, 'tokenizer_config.json'));
}

const out = { generator: 'transformers.js ' + version, tokenizers: {} };
for (const name of ['llama3_1', 'qwen3', 'mistral', ...Object.keys(variants)]) {
  env.localModelPath = name in variants ? tmp + '/' : (root.endsWith('/') ? root : root + '/');
  const tok = await AutoTokenizer.from_pretrained(name);
  const cases = [];
  for (const text of texts) {
    cases.push({
      text,
      ids: tok.encode(text, { add_special_tokens: false }),
      ids_special: tok.encode(text, { add_special_tokens: true }),
    });
  }
  out.tokenizers[name] = cases;
}
// One case per line, so that a diff shows which text changed.
const lines = ['{', ' "generator": ' + JSON.stringify(out.generator) + ',', ' "tokenizers": {'];
const names = Object.keys(out.tokenizers);
names.forEach((name, i) => {
  lines.push('  ' + JSON.stringify(name) + ': [');
  const cases = out.tokenizers[name];
  cases.forEach((c, j) => lines.push('   ' + JSON.stringify(c) + (j + 1 < cases.length ? ',' : '')));
  lines.push('  ]' + (i + 1 < names.length ? ',' : ''));
});
lines.push(' }', '}');
console.log(lines.join('\n'));
