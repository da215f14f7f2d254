package dev.backup.client;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the client knows of its own files' SHA-256, so that a file backed up before and not
 * touched since is not read again to learn that it is unchanged (as restic compares with
 * its parent snapshot, and git with its index): a file's name, size, modification and
 * change times (to the nanosecond), inode and device, with the SHA-256 its bytes had then. One
 * record file per client root, kept in the cache folder ({@code cache-dir}).
 *
 * <p>A record only replaces reading the file: the backup still skips it only when the
 * recorded checksum is the catalog's latest version's. Its safety rests on the change time,
 * which writes move and no user can set back. But a write may leave the times as they
 * were: one in the same tick of the file system's clock as the last, or one through a
 * memory mapping to a page already dirty (its times move only at the next write after the
 * page is written back, within about half a minute). So a file is recorded only if its
 * times did not move while it was read, and only if they had not moved for the settling
 * time (a minute by default, {@code cache-settle-seconds}) before the read began; a file
 * changed more recently is read again next time.
 *
 * <p>Best effort throughout: a missing, unreadable or damaged record file means files are
 * read, never an error; records are written to a temporary file and renamed into place.
 */
public final class LocalHashes {
  private static final Logger log = LoggerFactory.getLogger(LocalHashes.class);
  /** By default a file must have been left alone this long before its read began to be recorded. */
  public static final int SETTLE_SECONDS = 60;
  private static final String HEADER = "backup-local-hashes 2";

  /** A file's identity and times, as read from the file system. */
  public record Stat(long size, long modifiedNanos, long changedNanos, long inode, long device) {
  }

  private record Entry(Stat stat, String sha256) {
  }

  private final Path file;
  private final Path root;
  private final long settleMs;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  /** Names looked up or recorded since loading: their entries are current. */
  private final java.util.Set<String> seen = ConcurrentHashMap.newKeySet();
  /** The files this run listed, and the folders (or files) it listed them under ("" for the root). */
  private final java.util.Set<String> listed = ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> scopes = ConcurrentHashMap.newKeySet();
  private volatile boolean dirty;
  private volatile boolean reread;

  private LocalHashes(Path file, Path root, int settleSeconds) {
    this.file = file;
    this.root = root;
    this.settleMs = settleSeconds * 1000L;
  }

  /** No records: every lookup misses, nothing is kept. */
  public static LocalHashes none() {
    return new LocalHashes(null, null, SETTLE_SECONDS);
  }

  /**
   * The records of the client root {@code root}, kept in {@code cacheDir} (null: none),
   * recording only files left alone for {@code settleSeconds} before their read began;
   * loaded now (blocking: call it off the event loop).
   */
  public static LocalHashes load(Path cacheDir, Path root, int settleSeconds) {
    if (cacheDir == null) {
      return none();
    }
    Path abs = root.toAbsolutePath().normalize();
    String id = dev.backup.storage.BlobStore.sha256(abs.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 24);
    LocalHashes h = new LocalHashes(cacheDir.resolve("hashes-" + id + ".tsv"), abs, settleSeconds);
    h.read();
    return h;
  }

  /**
   * The size, times, inode and device of the file the client reads at {@code p} (blocking;
   * a link is followed, as the file's bytes are read through it).
   */
  public static Stat stat(Path p) throws IOException {
    Map<String, Object> a = Files.readAttributes(p, "unix:size,lastModifiedTime,ctime,ino,dev");
    return new Stat((Long) a.get("size"), nanos((FileTime) a.get("lastModifiedTime")),
        nanos((FileTime) a.get("ctime")), (Long) a.get("ino"), (Long) a.get("dev"));
  }

  /** The file's stat if records are kept and it can be taken, else null (then nothing is recorded). */
  public Stat statIfKept(Path p) {
    if (file == null) {
      return null;
    }
    try {
      return stat(p);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static long nanos(FileTime t) {
    return t.to(TimeUnit.NANOSECONDS);
  }

  /** A file's SHA-256 and size, and whether they came from its record (the file not read). */
  public record Known(String sha256, long size, boolean unread) {
  }

  /**
   * (blocking) The SHA-256 of the file {@code p}, backed up as {@code name}: from its record
   * if the file has not changed since, else read and hashed now (and recorded).
   */
  public Known sha256(String name, Path p) throws IOException {
    long start = System.currentTimeMillis();
    Stat before = statIfKept(p);
    String recorded = before == null ? null : lookup(name, before);
    if (recorded != null) {
      return new Known(recorded, before.size(), true);
    }
    String sha = dev.backup.storage.BlobStore.sha256(p);
    Stat after = statIfKept(p);
    record(name, before, after, start, sha);
    return new Known(sha, after != null ? after.size() : Files.size(p), false);
  }

  /** From now on every lookup misses: each file is read (and recorded anew). */
  public LocalHashes rereading() {
    reread = true;
    return this;
  }

  /** The SHA-256 recorded for {@code name} with exactly this {@code stat}, else null. */
  public String lookup(String name, Stat stat) {
    if (file == null) {
      return null;
    }
    seen.add(name);
    if (reread) {
      return null;
    }
    Entry e = entries.get(name);
    return e != null && e.stat().equals(stat) ? e.sha256() : null;
  }

  /**
   * Records that {@code name} held bytes with this {@code sha256}, read between the stats
   * {@code before} and {@code after}, the read having begun at {@code readStartMillis}
   * (wall clock). Nothing is recorded if the file moved while it was read, or had changed
   * less than the settling time (a minute by default) before.
   */
  public void record(String name, Stat before, Stat after, long readStartMillis, String sha256) {
    if (file == null || before == null || after == null) {
      return;
    }
    seen.add(name);
    long settledBefore = TimeUnit.MILLISECONDS.toNanos(readStartMillis - settleMs);
    if (!before.equals(after) || before.changedNanos() > settledBefore || before.modifiedNanos() > settledBefore) {
      if (entries.remove(name) != null) {
        dirty = true;
      }
      return;
    }
    Entry e = new Entry(before, sha256);
    if (!e.equals(entries.put(name, e))) {
      dirty = true;
    }
  }

  int size() {
    return entries.size();
  }

  /**
   * This run listed the files {@code names} by walking {@code scope} (a folder or a file,
   * by its name under the root; "" for the root itself): the records of files under it
   * that it did not list are of files gone, and are dropped when saved.
   */
  public void listed(String scope, java.util.Collection<String> names) {
    scopes.add(scope);
    listed.addAll(names);
  }

  /** Whether {@code name} is under a scope this run listed. */
  private boolean inScope(String name) {
    if (scopes.contains("") || scopes.contains(name)) {
      return true;
    }
    for (int i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
      if (scopes.contains(name.substring(0, i))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Writes the records back if any changed (blocking). The records of files under what
   * this run listed (see {@link #listed}) that it did not list are dropped; the others are
   * kept, without a look at the disk: a run over a few files costs no {@code lstat} of every
   * file ever recorded (the records of files gone elsewhere go when a run lists their folder).
   */
  public void save() {
    if (file == null) {
      return;
    }
    entries.keySet().removeIf(name -> {
      if (seen.contains(name) || listed.contains(name) || !inScope(name)) {
        return false;
      }
      dirty = true;
      return true;
    });
    if (!dirty) {
      return;
    }
    Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    try {
      Files.createDirectories(file.getParent());
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        w.write(HEADER + "\t" + root + "\n");
        for (Map.Entry<String, Entry> en : entries.entrySet()) {
          Stat s = en.getValue().stat();
          w.write(en.getKey() + "\t" + s.size() + "\t" + s.modifiedNanos() + "\t" + s.changedNanos() + "\t"
              + s.inode() + "\t" + s.device() + "\t" + en.getValue().sha256() + "\n");
        }
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      dirty = false;
    } catch (IOException | RuntimeException e) {
      log.debug("cannot keep the local hash records in {}: {}", file, e.toString());
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort
      }
    }
  }

  private void read() {
    if (!Files.isRegularFile(file)) {
      return;
    }
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String first = r.readLine();
      if (first == null || !first.startsWith(HEADER + "\t")) {
        return;
      }
      String line;
      while ((line = r.readLine()) != null) {
        String[] f = line.split("\t", -1);
        if (f.length != 7 || f[6].length() != 64) {
          continue;
        }
        try {
          entries.put(f[0], new Entry(new Stat(Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
              Long.parseLong(f[4]), Long.parseLong(f[5])), f[6]));
        } catch (NumberFormatException bad) {
          // a damaged line: that file is read again
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("cannot read the local hash records in {}: {}", file, e.toString());
      entries.clear();
    }
  }
}
