package dev.backup.cli;

/**
 * What the output may contain: progress bars and colour only on a terminal, colour never
 * with NO_COLOR set. Nothing here is printed when output goes to a pipe or a file.
 */
final class Console {
  private static final String RESET = "\u001B[0m";

  private Console() {
  }

  /** Standard output and error are a terminal a person is looking at. */
  static boolean interactive() {
    String term = System.getenv("TERM");
    return System.console() != null && (term == null || !term.equals("dumb"));
  }

  static boolean colour() {
    String noColor = System.getenv("NO_COLOR");
    return interactive() && (noColor == null || noColor.isEmpty());
  }

  static String red(String s) {
    return paint("\u001B[31m", s);
  }

  static String green(String s) {
    return paint("\u001B[32m", s);
  }

  static String yellow(String s) {
    return paint("\u001B[33m", s);
  }

  static String dim(String s) {
    return paint("\u001B[2m", s);
  }

  private static String paint(String code, String s) {
    return colour() ? code + s + RESET : s;
  }
}
