package dev.backup.manager;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.jackson.JacksonCodec;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The catalog on the manager's disk: a snapshot ({@code catalog.json}, generation G) and a
 * journal of the changes made since ({@code catalog-G.log}, one JSON record a line). A
 * change costs one forced append of the records it made, whatever the catalog's size;
 * when the journal outgrows the snapshot, a new snapshot (G+1) is written, forced and
 * renamed into place, and a new, empty journal started. A crash at any point leaves a
 * snapshot and the journal of its own generation (a journal of another generation is
 * stale and removed); a last line cut short by the crash is dropped. All methods block:
 * call them off the event loop, one at a time.
 */
public final class CatalogStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CatalogStore.class);
  public static final String SNAPSHOT = "catalog.json";
  /** A journal is compacted once it is larger than this and than the snapshot. */
  static final long MIN_COMPACT_BYTES = 4L << 20;

  private final Path root;
  private final long minCompactBytes;
  private long gen;
  private FileChannel journal;
  private volatile long journalBytes;
  private volatile long snapshotBytes;
  /** An append failed: the journal is not appended to again; the next save is a snapshot. */
  private volatile boolean broken;

  public CatalogStore(Path root) {
    this(root, MIN_COMPACT_BYTES);
  }

  CatalogStore(Path root, long minCompactBytes) {
    this.root = root;
    this.minCompactBytes = minCompactBytes;
  }

  private Path journalPath(long g) {
    return root.resolve("catalog-" + g + ".log");
  }

  /** Reads the catalog without changing anything on disk (for admin commands beside a running manager). */
  public static Catalog read(Path root) throws IOException {
    CatalogStore s = new CatalogStore(root);
    Catalog c = s.readSnapshot();
    s.replay(c, false);
    c.drainChanges();
    return c;
  }

  /** Loads the snapshot, replays its journal and opens the journal for appending. */
  public Catalog open() throws IOException {
    Files.createDirectories(root);
    Catalog c = readSnapshot();
    long good = replay(c, true);
    c.drainChanges();
    try (var files = Files.list(root)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (n.matches("catalog-\\d+\\.log") && !p.equals(journalPath(gen))) {
          Files.deleteIfExists(p);
        }
      }
    }
    journal = FileChannel.open(journalPath(gen), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    journal.truncate(good);
    journal.position(good);
    journal.force(true);
    foldersOpen = dev.backup.storage.BlobStore.canOpenFolder(root);
    fsyncDir(root);
    journalBytes = good;
    return c;
  }

  private Catalog readSnapshot() throws IOException {
    Path p = root.resolve(SNAPSHOT);
    gen = 0;
    if (!Files.exists(p)) {
      snapshotBytes = 0;
      return new Catalog();
    }
    // Streamed: one file's entry at a time goes into the catalog, so loading takes the
    // catalog's own memory and no copy of the file or of its whole JSON tree beside it.
    snapshotBytes = Files.size(p);
    Catalog c = new Catalog();
    try (var in = Files.newInputStream(p); JsonParser json = JSON.createParser(in)) {
      expect(json, json.nextToken(), JsonToken.START_OBJECT, p);
      while (json.nextToken() == JsonToken.FIELD_NAME) {
        String field = json.currentName();
        JsonToken value = json.nextToken();
        switch (field) {
          case "gen" -> gen = json.getValueAsLong(0);
          case "files" -> {
            expect(json, value, JsonToken.START_ARRAY, p);
            while (json.nextToken() == JsonToken.START_OBJECT) {
              c.loadFile(object(json));
            }
          }
          case "tombstones" -> {
            expect(json, value, JsonToken.START_ARRAY, p);
            while (json.nextToken() == JsonToken.START_OBJECT) {
              c.loadTombstone(object(json));
            }
          }
          case "lastVersion" -> {
            expect(json, value, JsonToken.START_OBJECT, p);
            while (json.nextToken() == JsonToken.FIELD_NAME) {
              String name = json.currentName();
              json.nextToken();
              c.loadCounter(name, json.getValueAsLong(0));
            }
          }
          default -> json.skipChildren();
        }
      }
    } catch (JsonProcessingException | DecodeException | IllegalArgumentException | ClassCastException
        | NullPointerException e) {
      throw new IOException("the catalog snapshot " + p + " is damaged: " + e.getMessage(), e);
    }
    c.loaded();
    return c;
  }

  private static final JsonFactory JSON = new JsonFactory();

  private static void expect(JsonParser json, JsonToken got, JsonToken wanted, Path p) throws IOException {
    if (got != wanted) {
      throw new IOException("the catalog snapshot " + p + " is damaged near line "
          + json.currentLocation().getLineNr() + ": " + wanted + " expected, " + got + " found");
    }
  }

  /** The object the parser is at (its START_OBJECT read), whole: one element of the snapshot, small. */
  private static JsonObject object(JsonParser json) throws IOException {
    return new JsonObject(JacksonCodec.parseObject(json));
  }

  /** Applies the journal of the snapshot's generation; returns the length of its whole lines. */
  private long replay(Catalog c, boolean quiet) throws IOException {
    Path p = journalPath(gen);
    if (!Files.exists(p)) {
      return 0;
    }
    long size = Files.size(p);
    long good = 0;
    int records = 0;
    try (BufferedReader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        long len = line.getBytes(StandardCharsets.UTF_8).length + 1L;
        if (good + len > size) {
          break; // a last line without its newline: cut short by a crash
        }
        try {
          c.apply(new JsonObject(line));
        } catch (DecodeException | IllegalArgumentException | ClassCastException e) {
          log.warn("manager: {} is damaged after {} records ({}); the rest is ignored", p, records, e.getMessage());
          break;
        }
        good += len;
        records++;
      }
    }
    if (records > 0 && quiet) {
      log.debug("manager: replayed {} catalog changes from {}", records, p);
    }
    return good;
  }

  /** Encodes records as journal lines (cheap: only what changed). */
  public static byte[] lines(List<JsonObject> records) {
    StringBuilder sb = new StringBuilder();
    for (JsonObject r : records) {
      sb.append(r.encode()).append('\n');
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Appends journal lines and forces them to disk. */
  public void append(byte[] lines) throws IOException {
    try {
      ByteBuffer b = ByteBuffer.wrap(lines);
      while (b.hasRemaining()) {
        journal.write(b);
      }
      journal.force(false);
    } catch (IOException | RuntimeException e) {
      // (A disk full, an I/O error.) The journal may end in part of these lines, and the
      // changes they carried are not on disk: nothing more goes after them (a line appended
      // to a fragment would be cut at the next start, and every line after it with it), and
      // the next save writes the whole catalog as a new snapshot instead.
      broken = true;
      throw e;
    }
    journalBytes += lines.length;
  }

  /**
   * Whether the next save should write a new snapshot instead of appending: the journal
   * has grown, or an append failed (the snapshot then carries the changes it lost).
   */
  public boolean wantsCompaction() {
    return broken || journalBytes > Math.max(minCompactBytes, snapshotBytes);
  }

  /**
   * Writes {@code snapshot} (the whole catalog, changes included) as the next generation
   * and starts its journal. The snapshot is streamed to its file as it is encoded.
   */
  public void compact(Catalog.Frozen snapshot) throws IOException {
    long next = gen + 1;
    Path tmp = root.resolve(SNAPSHOT + ".tmp");
    long bytes;
    FileChannel fresh = null;
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        try (JsonGenerator json = JSON.createGenerator(
            new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch), 1 << 16))) {
          json.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET); // (flushed at its close; the channel is forced next)
          snapshot.write(json, next);
        }
        bytes = ch.size();
        ch.force(true);
      }
      fresh = FileChannel.open(journalPath(next), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
      fresh.force(true);
      Files.move(tmp, root.resolve(SNAPSHOT), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      // (A full disk, say: what was written of the snapshot goes, not to take the room the
      // next try needs; the current snapshot and journal stay as they were.)
      if (fresh != null) {
        fresh.close();
        Files.deleteIfExists(journalPath(next));
      }
      Files.deleteIfExists(tmp);
      throw e;
    }
    FileChannel old = journal;
    Path oldPath = journalPath(gen);
    journal = fresh;
    gen = next;
    journalBytes = 0;
    snapshotBytes = bytes;
    if (old != null) {
      old.close();
    }
    try {
      fsyncDir(root);
    } catch (IOException e) {
      // The new snapshot's name may not be on disk: this save fails, and the next writes a
      // snapshot again (the old journal stays until then; a start removes it).
      broken = true;
      throw e;
    }
    broken = false;
    Files.deleteIfExists(oldPath);
  }

  long generation() {
    return gen;
  }

  long journalBytes() {
    return journalBytes;
  }

  /**
   * Whether this platform lets a folder be opened to be forced (found once, at open): where
   * it does not, the files themselves are forced and folder forces do nothing.
   */
  private volatile boolean foldersOpen = true;

  /** Forces a folder in place of the disk's force (null: the disk's): for tests. */
  volatile FolderForce forceFolder;

  interface FolderForce {
    void force(Path dir) throws IOException;
  }

  /**
   * Forces a folder (the snapshot's move into place) to disk. A folder that cannot be
   * opened here (too many open files, say) or a force that fails is an error, not a
   * force done.
   */
  private void fsyncDir(Path dir) throws IOException {
    if (!foldersOpen) {
      return;
    }
    if (forceFolder != null) {
      forceFolder.force(dir);
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  @Override
  public void close() throws IOException {
    if (journal != null) {
      journal.close();
    }
  }
}
