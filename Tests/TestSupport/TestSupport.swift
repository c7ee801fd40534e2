import ORWCore
