package dev.backup.protocol;

import java.nio.charset.StandardCharsets;

/**
 * Rules for a file's name in the system: its path relative to the client root, with
 * {@code /} between folders. A name never leaves the root and is safe to use as a path
 * on every server.
 */
public final class Names {
  public static final int MAX_LENGTH = 1024;
  public static final int MAX_SEGMENT_BYTES = 200;

  private Names() {
  }

  /** Returns the name if it is valid, or throws a USAGE error saying why not. */
  public static String validate(String name) {
    if (name == null || name.isEmpty()) {
      throw bad(name, "the name is empty");
    }
    if (name.length() > MAX_LENGTH) {
      throw new BackupException(ErrorCode.USAGE,
          "name too long (" + name.length() + " characters, at most " + MAX_LENGTH + ")");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw bad(name, "it contains a control character");
      }
      if (c == '\\') {
        throw bad(name, "use / between folders, not \\");
      }
    }
    if (name.startsWith("/")) {
      throw bad(name, "it is an absolute path; name files relative to the client root");
    }
    for (String seg : name.split("/", -1)) {
      if (seg.isEmpty()) {
        throw bad(name, "it has an empty folder name (// or a trailing /)");
      }
      if (seg.equals(".") || seg.equals("..")) {
        throw bad(name, "it leaves the client root or uses . or ..");
      }
      if (seg.getBytes(StandardCharsets.UTF_8).length > MAX_SEGMENT_BYTES) {
        throw bad(name, "a part of it is longer than " + MAX_SEGMENT_BYTES + " bytes");
      }
      if (seg.startsWith(".bk-")) {
        throw bad(name, "names starting with .bk- are reserved");
      }
    }
    return name;
  }

  /** A user's name: it is also the first folder of the user's files on the servers. */
  public static final java.util.regex.Pattern USER = java.util.regex.Pattern.compile("[a-z_][a-z0-9_.-]{0,31}");

  /** Returns the user name if it is valid, or throws a USAGE error saying why not. */
  public static String validateUser(String user) {
    if (user == null || !USER.matcher(user).matches()) {
      throw new BackupException(ErrorCode.USAGE, "invalid user name '" + printable(user)
          + "': use 1 to 32 of a-z 0-9 _ . -, starting with a letter or _");
    }
    return user;
  }

  private static BackupException bad(String name, String why) {
    return new BackupException(ErrorCode.USAGE, "invalid name '" + printable(name) + "': " + why);
  }

  /** The name with control characters escaped, safe to print on one line. */
  public static String printable(String name) {
    if (name == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < name.length() && sb.length() < 120; i++) {
      char c = name.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        sb.append(String.format("\\x%02x", (int) c));
      } else {
        sb.append(c);
      }
    }
    if (name.length() > 120) {
      sb.append("…");
    }
    return sb.toString();
  }
}
