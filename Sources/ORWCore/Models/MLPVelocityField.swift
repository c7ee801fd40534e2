/// Placeholder: the core-math issue implements the MLP.
public final class MLPVelocityField: VelocityField {
    public init(_ spec: MLPArchitecture) { fatalError("MLPVelocityField is not implemented yet") }
    public var dimension: Int { fatalError() }
    public var layout: ParameterLayout { fatalError() }
    public var architecture: Architecture { fatalError() }
    public func initialize(_ parameters: UnsafeMutablePointer<Float>, seed: UInt64) {}
    public func forward(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {}
    public func backward(parameterGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, outputGradient: UnsafePointer<Float>, parameters: UnsafePointer<Float>) {}
    public func infer(_ parameters: UnsafePointer<Float>, t: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {}
}
