package dev.backup.client;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where restored files go, as {@code cp} would put them. Without {@code --to}, each file
 * goes back to its name under the client root. With {@code --to T}: an existing folder T
 * receives the file (or the folder, keeping its subfolders) under its own name; any other
 * path T names the restored file (or, for a folder, the folder its files go into).
 * A relative T is taken from the client root.
 */
public final class RestoreTargets {
  private RestoreTargets() {
  }

  /**
   * @param requested the name the user asked for (a file, or a folder of files)
   * @param single    whether {@code requested} is one file rather than a folder
   * @param names     the names to restore (all equal to or under {@code requested})
   */
  public static Map<String, Path> targets(Path root, String requested, boolean single, List<String> names, String to) {
    return targets(root, requested, single, names, to, isFolder(root, to));
  }

  /** Whether {@code to} (null: none) names an existing folder, as a restore began. */
  public static boolean isFolder(Path root, String to) {
    return to != null && Files.isDirectory(root.resolve(to).normalize());
  }

  /**
   * The same for one page of a restore, {@code toWasFolder} saying whether {@code to} was an
   * existing folder when the restore began (its first page may have made it one since).
   */
  public static Map<String, Path> targets(Path root, String requested, boolean single, List<String> names, String to,
                                          boolean toWasFolder) {
    Map<String, Path> out = new LinkedHashMap<>();
    if (to == null) {
      for (String n : names) {
        out.put(n, root.resolve(n));
      }
      return out;
    }
    Path t = root.resolve(to).normalize();
    String base = requested.contains("/") ? requested.substring(requested.lastIndexOf('/') + 1) : requested;
    if (toWasFolder) {
      for (String n : names) {
        out.put(n, single ? t.resolve(base) : t.resolve(base).resolve(rest(requested, n)));
      }
      return out;
    }
    if (single) {
      out.put(names.get(0), t);
      return out;
    }
    if (Files.exists(t) && !Files.isDirectory(t)) {
      throw new BackupException(ErrorCode.EXISTS, "'" + to + "' is a file; a folder cannot be restored onto it");
    }
    for (String n : names) {
      out.put(n, t.resolve(rest(requested, n)));
    }
    return out;
  }

  /**
   * The part of {@code name} below {@code requested}; "" for a file named as the folder
   * itself (the catalog can hold a file {@code notes} and files under {@code notes/}),
   * which so goes where a single file would.
   */
  private static String rest(String requested, String name) {
    if (requested.isEmpty()) {
      return name;
    }
    return name.equals(requested) ? "" : name.substring(requested.length() + 1);
  }
}
