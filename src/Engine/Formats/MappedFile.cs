using System.IO.MemoryMappedFiles;

namespace Engine.Formats;

/// <summary>A read-only memory map of a whole file with bounds-checked access. Every range taken from it is checked
/// against the file length and reported as a <see cref="FileFormatException"/> naming the file and the item.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;

    private MappedFile(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _base = basePtr;
    }

    public string Path { get; }
    public long Length { get; }

    public static MappedFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("weight files are read on little-endian hosts only");
        if (!File.Exists(path)) throw new FileFormatException(path, "file", "does not exist");
        // FileShare.Delete lets an atomic writer replace the file while a reader still has the old one mapped.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        try
        {
            long length = stream.Length;
            if (length == 0)
            {
                stream.Dispose();
                return new MappedFile(path, 0, null, null, null);
            }
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(path, length, map, view, p + view.PointerOffset);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream.Dispose();
            throw new FileFormatException(path, "file", $"cannot be mapped for reading ({e.Message})", e);
        }
    }

    /// <summary>Maps the file and hands it to <paramref name="parse"/>; the map is released if parsing throws.</summary>
    public static T OpenWith<T>(string path, Func<MappedFile, T> parse)
    {
        var file = Open(path);
        try
        {
            return parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Throws unless [offset, offset+length) lies inside the file.</summary>
    public void Check(long offset, long length, string what)
    {
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new FileFormatException(Path, what, $"needs bytes [{offset}, {offset + length}) but the file is {Length} bytes long");
    }

    public ReadOnlySpan<byte> Span(long offset, long length, string what)
    {
        Check(offset, length, what);
        if (length > int.MaxValue)
            throw new FileFormatException(Path, what, $"is {length} bytes; one span can hold at most {int.MaxValue} (read it as floats instead)");
        if (length == 0) return ReadOnlySpan<byte>.Empty;
        return new ReadOnlySpan<byte>(Pointer + offset, (int)length);
    }

    /// <summary>Elements per piece when a tensor is converted in pieces, keeping every span under 2 GiB even for
    /// 8-byte elements, so tensors larger than one span can still be read.</summary>
    public const int ChunkElements = 1 << 26;

    /// <summary>A span over a range already checked with <see cref="Check"/> (a piece of a larger checked range).</summary>
    public ReadOnlySpan<byte> CheckedSpan(long offset, int length) =>
        length == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(Pointer + offset, length);

    /// <summary>The first byte of the mapping; callers check ranges with <see cref="Check"/> first.</summary>
    public byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_base == null && Length != 0, this);
            return _base;
        }
    }

    public void Dispose()
    {
        if (_view is not null && _base != null)
        {
            _base = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
