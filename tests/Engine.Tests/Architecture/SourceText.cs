namespace Engine.Tests.Architecture;

/// <summary>Blanks the comments and the literal text of strings and chars in C# source, keeping every other character
/// (and every line break) where it was, so that what is left is code and positions still give the right line.
/// Interpolation holes (<c>$"{Formats.X.Y}"</c>) are code and are kept. Handles regular, verbatim, interpolated and
/// raw strings (any number of quotes and dollars) and char literals.</summary>
internal static class SourceText
{
    public static string CodeOnly(string source)
    {
        var s = new Scanner(source);
        s.Code(inHole: false, closingBraces: 0);
        return new string(s.Output);
    }

    private sealed class Scanner(string text)
    {
        private readonly string _t = text;
        private int _i;

        public char[] Output { get; } = text.ToCharArray();

        private char At(int i) => i < _t.Length ? _t[i] : '\0';

        private void Blank(int from, int to)
        {
            for (int k = from; k < to && k < _t.Length; k++)
                if (_t[k] is not ('\n' or '\r')) Output[k] = ' ';
        }

        /// <summary>Scans code; inside an interpolation hole, returns after the braces that close it.</summary>
        public void Code(bool inHole, int closingBraces)
        {
            int depth = 0;
            while (_i < _t.Length)
            {
                char c = _t[_i];
                if (c == '/' && At(_i + 1) == '/') { int end = _t.IndexOf('\n', _i); end = end < 0 ? _t.Length : end; Blank(_i, end); _i = end; continue; }
                if (c == '/' && At(_i + 1) == '*') { int end = _t.IndexOf("*/", _i + 2, StringComparison.Ordinal); end = end < 0 ? _t.Length : end + 2; Blank(_i, end); _i = end; continue; }
                if (c == '\'') { CharLiteral(); continue; }
                if (StartsString()) { StringLiteral(); continue; }
                if (inHole)
                {
                    if (c == ':' && At(_i + 1) == ':') { _i += 2; continue; }            // global::X
                    if (c is '(' or '[' or '{') depth++;
                    else if (c is ')' or ']') depth--;
                    else if (c == '}' && depth > 0) depth--;
                    else if (c == '}' || (c == ':' && depth == 0))
                    {
                        // End of the hole, or the start of its format specifier: literal text up to the closing braces.
                        int end = _i;
                        while (end < _t.Length && _t[end] != '}') end++;
                        Blank(_i, end + closingBraces);
                        _i = end + closingBraces;
                        return;
                    }
                }
                _i++;
            }
        }

        private bool StartsString()
        {
            int j = _i;
            if (j > 0 && (char.IsLetterOrDigit(_t[j - 1]) || _t[j - 1] == '_')) return false; // an identifier, not a prefix
            while (At(j) is '$' or '@') j++;
            return At(j) == '"';
        }

        private void StringLiteral()
        {
            int start = _i;
            int dollars = 0;
            bool verbatim = false;
            while (At(_i) is '$' or '@') { if (_t[_i] == '$') dollars++; else verbatim = true; _i++; }
            int quotes = 0;
            while (At(_i + quotes) == '"') quotes++;
            bool raw = quotes >= 3;
            if (!raw) quotes = 1; // "" is an empty string, not an opening of two quotes
            _i += quotes;
            Blank(start, _i);
            while (_i < _t.Length)
            {
                char c = _t[_i];
                if (raw && c == '"' && Repeats('"', quotes)) { Blank(_i, _i + quotes); _i += quotes; return; }
                if (!raw && verbatim && c == '"' && At(_i + 1) == '"') { Blank(_i, _i + 2); _i += 2; continue; }
                if (!raw && c == '"') { Blank(_i, _i + 1); _i++; return; }
                if (!raw && !verbatim && c == '\\') { Blank(_i, _i + 2); _i += 2; continue; }
                if (dollars > 0 && c == '{')
                {
                    int open = raw ? dollars : 1;
                    if (!raw && At(_i + 1) == '{') { Blank(_i, _i + 2); _i += 2; continue; } // {{ is a literal brace
                    if (raw && !Repeats('{', open)) { Blank(_i, _i + 1); _i++; continue; }
                    Blank(_i, _i + open);
                    _i += open;
                    Code(inHole: true, closingBraces: open);
                    continue;
                }
                Blank(_i, _i + 1);
                _i++;
            }
        }

        private bool Repeats(char c, int count)
        {
            for (int k = 0; k < count; k++) if (At(_i + k) != c) return false;
            return true;
        }

        private void CharLiteral()
        {
            int start = _i++;
            while (_i < _t.Length && _t[_i] != '\'' && _t[_i] != '\n') _i += _t[_i] == '\\' ? 2 : 1;
            _i++;
            Blank(start, _i);
        }
    }
}
