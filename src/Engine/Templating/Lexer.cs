using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Templating;

/// <summary>Splits a template into tokens with jinja2's rules and Hugging Face's environment: <c>trim_blocks</c> (the
/// first newline after a block or comment tag is removed), <c>lstrip_blocks</c> (spaces and tabs from the start of a
/// line to a block or comment tag are removed), <c>-</c> on a tag strips all whitespace on that side, <c>+</c>
/// disables lstrip/trim for that tag. Comments are dropped; <c>{% raw %}</c> bodies become text.</summary>
internal static partial class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    [GeneratedRegex(@"\G\{%([-+]?)\s*raw\s*(-?)%\}")]
    private static partial Regex RawBegin();

    [GeneratedRegex(@"\{%([-+]?)\s*endraw\s*([-+]?)%\}")]
    private static partial Regex RawEnd();

    public static List<Token> Tokenize(TemplateSource src)
    {
        var s = src.Text;
        var tokens = new List<Token>();
        int pos = 0;
        bool lineStarting = true;
        while (pos < s.Length)
        {
            int tag = FindTag(s, pos);
            if (tag < 0) { tokens.Add(new Token(TokenKind.Data, s[pos..], pos)); break; }
            char kind = s[tag + 1];
            char sign = tag + 2 < s.Length && s[tag + 2] is '-' or '+' ? s[tag + 2] : '\0';
            var text = s[pos..tag];
            if (sign == '-') text = text.TrimEnd();
            else if (sign != '+' && kind != '{')
            {
                int l = text.LastIndexOf('\n') + 1;
                if ((l > 0 || lineStarting) && IsBlank(text, l)) text = text[..l];
            }
            if (text.Length > 0) tokens.Add(new Token(TokenKind.Data, text, pos));

            if (kind == '#')
            {
                int close = s.IndexOf("#}", tag + 2, StringComparison.Ordinal);
                if (close < 0) throw src.Error(tag, "comment not closed: missing #}");
                pos = AfterClose(s, close, 2, close > tag + 2 && s[close - 1] == '-', s[close - 1] == '+', trim: true);
            }
            else if (kind == '%' && RawBegin().Match(s, tag) is { Success: true } raw)
            {
                int bodyStart = raw.Index + raw.Length;
                if (raw.Groups[2].Value == "-") bodyStart = SkipWhitespace(s, bodyStart);
                else if (bodyStart < s.Length && s[bodyStart] == '\n') bodyStart++;
                var end = RawEnd().Match(s, bodyStart);
                if (!end.Success) throw src.Error(tag, "{% raw %} not closed: missing {% endraw %}");
                var body = s[bodyStart..end.Index];
                if (end.Groups[1].Value == "-") body = body.TrimEnd();
                if (body.Length > 0) tokens.Add(new Token(TokenKind.Data, body, bodyStart));
                int after = end.Index + end.Length;
                pos = AfterClose(s, after - 2, 2, end.Groups[2].Value == "-", end.Groups[2].Value == "+", trim: true);
            }
            else
            {
                bool block = kind == '%';
                tokens.Add(new Token(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, "", tag));
                pos = LexInside(src, tag + 2 + (sign != '\0' ? 1 : 0), block, tokens);
            }
            lineStarting = pos > 0 && s[pos - 1] == '\n';
        }
        tokens.Add(new Token(TokenKind.End, "", s.Length));
        return tokens;
    }

    private static int FindTag(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private static bool IsBlank(string text, int from)
    {
        for (int i = from; i < text.Length; i++)
            if (!char.IsWhiteSpace(text[i])) return false;
        return true;
    }

    private static int SkipWhitespace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    /// <summary>The position after a closing tag at <paramref name="close"/> (of <paramref name="width"/> chars),
    /// applying "-" (strip all whitespace after) or trim_blocks (drop one newline) unless "+".</summary>
    private static int AfterClose(string s, int close, int width, bool minus, bool plus, bool trim)
    {
        int after = close + width;
        if (minus) return SkipWhitespace(s, after);
        if (trim && !plus && after < s.Length && s[after] == '\n') after++;
        return after;
    }

    private static int LexInside(TemplateSource src, int pos, bool block, List<Token> tokens)
    {
        var s = src.Text;
        int depth = 0;
        int start = pos;
        while (true)
        {
            pos = SkipWhitespace(s, pos);
            if (pos >= s.Length) throw src.Error(start - 2, block ? "block tag not closed: missing %}" : "expression not closed: missing }}");
            if (depth == 0)
            {
                char close = block ? '%' : '}';
                bool signed = s[pos] is '-' or '+' && pos + 2 < s.Length && s[pos + 1] == close && s[pos + 2] == '}';
                if (signed || (s[pos] == close && pos + 1 < s.Length && s[pos + 1] == '}'))
                {
                    int closeAt = signed ? pos + 1 : pos;
                    tokens.Add(new Token(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", pos));
                    return AfterClose(s, closeAt, 2, signed && s[pos] == '-', signed && s[pos] == '+', trim: block);
                }
            }
            char c = s[pos];
            if (char.IsLetter(c) || c == '_')
            {
                int j = pos + 1;
                while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
                tokens.Add(new Token(TokenKind.Name, s[pos..j], pos));
                pos = j;
            }
            else if (char.IsAsciiDigit(c)) pos = LexNumber(s, pos, tokens);
            else if (c is '\'' or '"') pos = LexString(src, pos, tokens);
            else
            {
                var op = Operators.FirstOrDefault(o => string.CompareOrdinal(s, pos, o, 0, o.Length) == 0)
                    ?? throw src.Error(pos, $"unexpected character '{c}' inside a tag");
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                tokens.Add(new Token(TokenKind.Operator, op, pos));
                pos += op.Length;
            }
        }
    }

    private static int LexNumber(string s, int pos, List<Token> tokens)
    {
        int j = Digits(s, pos);
        bool isFloat = false;
        if (j + 1 < s.Length && s[j] == '.' && char.IsAsciiDigit(s[j + 1])) { j = Digits(s, j + 1); isFloat = true; }
        if (j < s.Length && s[j] is 'e' or 'E')
        {
            int k = j + 1;
            if (k < s.Length && s[k] is '+' or '-') k++;
            if (k < s.Length && char.IsAsciiDigit(s[k])) { j = Digits(s, k); isFloat = true; }
        }
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, s[pos..j].Replace("_", ""), pos));
        return j;

        static int Digits(string s, int i)
        {
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || (s[i] == '_' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))) i++;
            return i;
        }
    }

    /// <summary>A quoted string with Python's escapes (jinja2 decodes literals with "unicode-escape"); an unknown escape
    /// keeps its backslash.</summary>
    private static int LexString(TemplateSource src, int pos, List<Token> tokens)
    {
        var s = src.Text;
        char quote = s[pos];
        var sb = new StringBuilder();
        int i = pos + 1;
        while (true)
        {
            if (i >= s.Length) throw src.Error(pos, "string literal not closed");
            char c = s[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= s.Length) { sb.Append(c); i++; continue; }
            char e = s[i + 1];
            i += 2;
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': sb.Append(Hex(2)); break;
                case 'u': sb.Append(Hex(4)); break;
                case 'U': sb.Append(Hex(8)); break;
                case >= '0' and <= '7':
                {
                    int v = e - '0', n = 1;
                    while (n < 3 && i < s.Length && s[i] is >= '0' and <= '7') { v = v * 8 + (s[i++] - '0'); n++; }
                    sb.Append(char.ConvertFromUtf32(v));
                    break;
                }
                default: sb.Append('\\').Append(e); break;
            }
        }
        tokens.Add(new Token(TokenKind.String, sb.ToString(), pos));
        return i + 1;

        string Hex(int n)
        {
            if (i + n > s.Length || !int.TryParse(s.AsSpan(i, n), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
                throw src.Error(i - 2, $"bad \\{s[i - 1]} escape in a string literal: expected {n} hex digits");
            i += n;
            return char.ConvertFromUtf32(v);
        }
    }
}
