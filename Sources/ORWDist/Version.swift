/// The orwdist release, written into every checkpoint and printed by `orwdist --version`.
public enum OrwdistVersion {
    public static let current = "0.1.0"

    public static var buildConfiguration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }
}
