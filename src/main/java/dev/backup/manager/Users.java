package dev.backup.manager;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Scram;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The users the manager admits and their verifiers, kept in {@code users.json} in the
 * manager's root: per user a random salt, the PBKDF2 iterations and the StoredKey of
 * {@link Scram} (never the secret, nor anything that signs in by itself). No file, or one
 * without users, means the manager runs open. Every method does blocking file I/O: call
 * them off the event loop.
 */
public final class Users {
  public static final String FILE = "users.json";

  /** One user: what the manager needs to check a proof. */
  public record User(String name, byte[] salt, int iterations, byte[] storedKey, long quota) {
    JsonObject toJson() {
      JsonObject j = new JsonObject().put("salt", Scram.b64(salt)).put("iterations", iterations)
          .put("storedKey", Scram.b64(storedKey));
      return quota > 0 ? j.put("quota", quota) : j;
    }
  }

  private final Path file;
  private Map<String, User> users = Map.of();
  private Object stamp;

  /** About a hundred thousand users; a larger file is not one this manager wrote. */
  static final long MAX_FILE_BYTES = 32L << 20;

  public Users(Path root) {
    this.file = root.resolve(FILE);
  }

  /** The users as the file holds them now (read again only when the file changed). */
  public synchronized Map<String, User> current() {
    Object now;
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      now = a.lastModifiedTime().toMillis() + ":" + a.size() + ":" + a.fileKey();
    } catch (NoSuchFileException e) {
      users = Map.of();
      stamp = null;
      return users;
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot read " + file + ": " + e.getMessage(), e);
    }
    if (!now.equals(stamp)) {
      users = read();
      stamp = now;
    }
    return users;
  }

  private Map<String, User> read() {
    try {
      JsonObject j = new JsonObject(dev.backup.config.SmallFiles.read(file, MAX_FILE_BYTES, StandardCharsets.UTF_8));
      Map<String, User> out = new TreeMap<>();
      JsonObject all = j.getJsonObject("users", new JsonObject());
      for (String name : all.fieldNames()) {
        JsonObject u = all.getJsonObject(name);
        out.put(name, new User(name, Scram.unb64(u.getString("salt")), u.getInteger("iterations"),
            Scram.unb64(u.getString("storedKey")), u.getLong("quota", 0L)));
      }
      return Collections.unmodifiableMap(out);
    } catch (IOException | RuntimeException e) {
      throw new BackupException(ErrorCode.IO, "cannot read the users file " + file + ": " + e.getMessage(), e);
    }
  }

  /** Creates a user with a fresh random secret and returns the secret (it is kept nowhere). */
  public synchronized String add(String name, int iterations) {
    dev.backup.protocol.Names.validateUser(name);
    Map<String, User> all = new TreeMap<>(current());
    if (all.containsKey(name)) {
      throw new BackupException(ErrorCode.EXISTS, "user '" + name + "' exists already");
    }
    String secret = Scram.random(32);
    byte[] salt = Scram.unb64(Scram.random(16));
    all.put(name, new User(name, salt, iterations, Scram.storedKey(secret, salt, iterations), 0));
    write(all);
    return secret;
  }

  /** Sets how many bytes a user's files may take (every kept version counted once); 0: no limit. */
  public synchronized void setQuota(String name, long bytes) {
    if (bytes < 0) {
      throw new BackupException(ErrorCode.USAGE, "a quota is a number of bytes, 0 for none");
    }
    Map<String, User> all = new TreeMap<>(current());
    User u = all.get(name);
    if (u == null) {
      throw new BackupException(ErrorCode.NOT_FOUND, "no user '" + dev.backup.protocol.Names.printable(name) + "'");
    }
    all.put(name, new User(name, u.salt(), u.iterations(), u.storedKey(), bytes));
    write(all);
  }

  /** Removes a user; its files stay in the catalog under its name. */
  public synchronized void remove(String name) {
    Map<String, User> all = new TreeMap<>(current());
    if (all.remove(name) == null) {
      throw new BackupException(ErrorCode.NOT_FOUND, "no user '" + dev.backup.protocol.Names.printable(name) + "'");
    }
    write(all);
  }

  /** Written to a temporary file, forced, renamed into place and the folder synced. */
  private void write(Map<String, User> all) {
    JsonObject users = new JsonObject();
    all.values().forEach(u -> users.put(u.name(), u.toJson()));
    byte[] json = new JsonObject().put("version", 1).put("users", users).encodePrettily()
        .getBytes(StandardCharsets.UTF_8);
    Path tmp = file.resolveSibling(FILE + ".tmp");
    try {
      Files.createDirectories(file.getParent());
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.write(ByteBuffer.wrap(json));
        ch.force(true);
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      } catch (IOException ignored) {
        // not every platform syncs a folder
      }
    } catch (IOException e) {
      throw new BackupException(ErrorCode.IO, "cannot write the users file " + file + ": " + e.getMessage(), e);
    }
    stamp = null;
    this.users = Collections.unmodifiableMap(all);
  }

  /** The names of the users, sorted. */
  public JsonArray names() {
    return new JsonArray(new java.util.ArrayList<>(current().keySet()));
  }
}
